"""`outcomes users add|grant` and `outcomes serve` as a person runs them: the account signs in
on the served app, mistakes are one sentence and exit 2, and the changes are audited."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from common_outcomes.state import Role, State

# The `until_serving` fixture (conftest.py): waits until a server answers /health.
UntilServing = Callable[[str, subprocess.Popen[str]], None]

# Its tests run whole commands (synthesise, load, run, serve): more than the default timeout.
pytestmark = pytest.mark.timeout(900)
EXE = Path(sys.executable).with_name("outcomes")
ROOT = Path(__file__).resolve().parents[2]
IGNORE = shutil.ignore_patterns("incoming", "synth-truth", ".outcomes", ".synth-staging-*")
SIGN_IN = re.compile(r"as (\S+@\S+) with the password (\S+) ")


def outcomes(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=300,
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


def test_serve_answers_on_the_port_it_is_given(workspaces: tuple[Path, Path], tmp_path: Path,
                                               until_serving: UntilServing) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}"}
    # Two worker processes (the demo's test serves with one).
    server = subprocess.Popen([str(EXE), "serve", str(workspaces[0]), "--port", str(port),
                               "--workers", "2"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        until_serving(f"http://127.0.0.1:{port}", server)
        # Anything else needs a signed-in user.
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/workspaces")
        try:
            urllib.request.urlopen(request)
            raise AssertionError("the API answered without sign-in")
        except urllib.error.HTTPError as refused:
            assert refused.code == 401
        # A second server on the same port is refused in one sentence.
        busy = outcomes("serve", str(workspaces[0]), "--port", str(port), env=env)
        assert busy.returncode == 2 and f"Cannot listen on 127.0.0.1:{port}" in busy.stderr
        assert "Traceback" not in busy.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _signs_in(base: str, email: str, password: str) -> bool:
    """Signs in over HTTP as a browser would (cookies carried by hand: urllib keeps no Secure
    cookie over plain http) and opens the workspace's overview."""
    with urllib.request.urlopen(f"{base}/sign-in") as page:
        csrf_cookie = page.headers["Set-Cookie"].split(";")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())
    assert token is not None
    form = urllib.parse.urlencode({"email": email, "password": password, "next": "/w/tower-hamlets",
                                   "csrf_token": token.group(1)}).encode()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(urllib.request.Request(f"{base}/sign-in", data=form,
                                           headers={"Cookie": csrf_cookie}))
        return False  # a 200 is the form again, with its error
    except urllib.error.HTTPError as answer:
        if answer.code != 303:
            return False
        session = answer.headers["Set-Cookie"].split(";")[0]
    with urllib.request.urlopen(urllib.request.Request(
            f"{base}/w/tower-hamlets", headers={"Cookie": session})) as overview:
        return "Tower Hamlets" in overview.read().decode()


def test_demo_builds_the_example_prints_a_sign_in_and_serves(
        tmp_path: Path, until_serving: UntilServing) -> None:
    """As a person or a script runs it: with --no-serve it builds and stops after printing
    the sign-in; by default, with or without a terminal (stdin is not one here), it also
    serves, and the printed password signs in (a new one each run: the last one no longer
    does)."""
    folder = tmp_path / "th"
    shutil.copytree(ROOT / "examples" / "tower-hamlets", folder, ignore=IGNORE)
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}"}
    args = ("demo", str(folder), "--years", "1", "--key-file", str(tmp_path / "demo.key"))
    built = outcomes(*args, "--no-serve", env=env)
    assert built.returncode == 0, built.stderr
    assert "Traceback" not in built.stderr
    first = SIGN_IN.search(built.stdout)
    assert first is not None, built.stdout
    assert f"To serve it: outcomes serve {folder}" in built.stdout
    assert (folder / ".outcomes" / "results" / "indicator_values.parquet").is_file()
    port = free_port()
    server = subprocess.Popen([str(EXE), *args, "--port", str(port)],
                              env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        # The sign-in is printed before the server starts.
        second = next((m for line in server.stdout if (m := SIGN_IN.search(line))), None)
        assert second is not None and second.group(1) == "demo@example.org"
        base = f"http://127.0.0.1:{port}"
        until_serving(base, server)
        assert _signs_in(base, "demo@example.org", second.group(2))
        assert not _signs_in(base, "demo@example.org", first.group(2))
    finally:
        server.terminate()
        server.wait(timeout=30)
