"""`outcomes users add|grant` and `outcomes serve` as a person runs them: the account signs in
on the served app, mistakes are one sentence and exit 2, and the changes are audited."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from common_outcomes.state import Role, State

EXE = Path(sys.executable).with_name("outcomes")


def outcomes(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=120,
                          check=False, env={**os.environ, **env}, stdin=subprocess.DEVNULL)


def test_users_are_added_and_granted_from_the_command_line(
        workspaces: tuple[Path, Path], tmp_path: Path) -> None:
    example, _ = workspaces
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    env = {"DATABASE_URL": url, "OUTCOMES_PASSWORD": "a long synthetic passphrase"}
    added = outcomes("users", "add", str(example), "--email", "Lead@Example.org", "--name",
                     "Hub lead", "--role", "contributor", env=env)
    assert added.returncode == 0, added.stderr
    assert "Added Lead@Example.org as contributor in tower-hamlets" in added.stdout
    again = outcomes("users", "add", str(example), "--email", "lead@example.org", env=env)
    assert again.returncode == 2 and "already an account" in again.stderr
    assert "Traceback" not in again.stderr
    wrong = outcomes("users", "grant", str(example), "--email", "lead@example.org", "--role",
                     "superuser", env=env)
    assert wrong.returncode == 2 and "Unknown role 'superuser'" in wrong.stderr
    short = outcomes("users", "add", str(example), "--email", "b@example.org",
                     env={**env, "OUTCOMES_PASSWORD": "too short"})
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    granted = outcomes("users", "grant", str(example), "--email", "lead@example.org",
                       "--role", "analyst", env=env)
    assert granted.returncode == 0, granted.stderr
    state = State.open(url)
    try:
        account = state.account(state.sign_in("lead@example.org",
                                              "a long synthetic passphrase", "test"))
        assert account is not None and account.roles == {"tower-hamlets": Role.ANALYST}
        events = [(e.action, e.actor.startswith("cli:")) for e in state.events()]
        assert ("user.add", True) in events and ("user.grant", True) in events
    finally:
        state.close()


def test_serve_answers_on_the_port_it_is_given(workspaces: tuple[Path, Path],
                                               tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}"}
    server = subprocess.Popen([str(EXE), "serve", str(workspaces[0]), "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as answer:
                    assert answer.read() == b"ok"
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "outcomes serve did not answer"
                time.sleep(0.2)
        # Anything else needs a signed-in user.
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/workspaces")
        try:
            urllib.request.urlopen(request)
            raise AssertionError("the API answered without sign-in")
        except urllib.error.HTTPError as refused:
            assert refused.code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
