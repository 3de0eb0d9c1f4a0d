"""The web app under test: the Tower Hamlets example with two years of synthetic data loaded
and computed (once per session), a second workspace with another id and no data, and the app's
state in SQLite and in PostgreSQL (a database made for the session and dropped after it)."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common_outcomes.state import ActionFields, ReviewFields, Role
from common_outcomes.state.demo import demo_rounds
from common_outcomes.web.app import create_app
from common_outcomes.web.site import Served, Site
from common_outcomes.web.story_checks import subject_of

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long synthetic passphrase"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/"
# Who is who in the tests: a role in the example workspace, or in the other one only.
USERS = {
    "viewer@example.org": ("tower-hamlets", Role.VIEWER),
    "contributor@example.org": ("tower-hamlets", Role.CONTRIBUTOR),
    "other@example.org": ("elsewhere", Role.ADMIN),
    "analyst@example.org": ("tower-hamlets", Role.ANALYST),
}
# Who visits every page: an analyst in both workspaces.
VISITOR = "analyst@example.org"
# Who opens, moderates and closes the seeded self-assessment rounds.
ROUNDS_ADMIN = "rounds-admin@example.org"


def outcomes(*args: str) -> None:
    exe = Path(sys.executable).with_name("outcomes")
    done = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def workspaces(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("web")
    ignore = shutil.ignore_patterns("incoming", "synth-truth", ".outcomes", ".synth-staging-*")
    example = root / "tower-hamlets"
    shutil.copytree(ROOT / "examples" / "tower-hamlets", example, ignore=ignore)
    key = root / "key"
    key.write_text("k" * 64)
    outcomes("synth", str(example), "--years", "2", "--seed", "7")
    outcomes("load", str(example), "--all", "--key-file", str(key))
    outcomes("run", str(example))
    # The same strategy under another id, with no data: another borough's workspace.
    other = root / "elsewhere"
    shutil.copytree(ROOT / "examples" / "tower-hamlets", other, ignore=ignore)
    settings = other / "workspace.yaml"
    text = settings.read_text()
    settings.write_text(re.sub(r"^id: tower-hamlets$", "id: elsewhere", text, count=1,
                               flags=re.M))
    return example, other


@dataclass(frozen=True)
class Leaking:
    """A copy of the computed example whose results leak one indicator's small count, as an
    engine that forgot to suppress a cell would write them."""

    folder: Path
    indicator: str
    area: str
    period: str


@pytest.fixture(scope="session")
def leaking(workspaces: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
            ) -> Leaking:
    """The example (its results included) with one ward's count of a priority's headline
    measure in the newest period shown as 2, below every source's threshold."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from common_outcomes.results.table import RESULTS

    folder = tmp_path_factory.mktemp("leaking") / "tower-hamlets"
    shutil.copytree(workspaces[0], folder)
    table = pq.read_table(folder / RESULTS)
    served = Served.load(folder)
    headline = [m["id"] for p in served.map["priorities"] for m in p["measures"]]
    held = set(table.column("indicator_id").to_pylist())
    indicator = next(i for i in headline if i in held)
    rows = table.to_pylist()
    newest = max(r["period_end"] for r in rows if r["indicator_id"] == indicator)
    at = next(n for n, r in enumerate(rows)
              if r["indicator_id"] == indicator and r["area_type"] == "ward"
              and r["period_end"] == newest and not r["suppressed"] and r["numerator"])
    numerators = table.column("numerator").to_pylist()
    numerators[at] = 2
    leaked = table.set_column(table.schema.get_field_index("numerator"), "numerator",
                              pa.array(numerators, table.schema.field("numerator").type))
    assert pc.sum(pc.not_equal(leaked["numerator"], table["numerator"])).as_py() == 1
    pq.write_table(leaked, folder / RESULTS)
    return Leaking(folder, indicator, rows[at]["area_code"], rows[at]["period"])


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def leaky_app(request: pytest.FixtureRequest, leaking: Leaking, workspaces: tuple[Path, Path],
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The app serving the leaking copy of the example (and the other workspace), its
    state on each database."""
    with fresh_database(request.param, tmp_path_factory) as url:
        yield app_with_users([leaking.folder, workspaces[1]], url)


@pytest.fixture
def leaky_visitor(leaky_app: FastAPI) -> TestClient:
    """The visitor (an analyst in both workspaces), signed in to the leaking app."""
    return sign_in(TestClient(leaky_app, base_url="https://testserver"), VISITOR)


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"outcomes_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                         autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES + name
    finally:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                             autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the session, dropped at the end."""
    with fresh_postgres() as url:
        yield url


@contextmanager
def fresh_database(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new, empty state database of a kind ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('state') / 'app.sqlite3'}"
        return
    with fresh_postgres() as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[str]:
    """A new, empty state database each time pytest makes this fixture: it may make it more
    than once in a session (when tests of the two databases interleave, as they do when
    the suite runs in several processes), and the app fixture adds its users to it."""
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


def app_with_users(folders: list[Path], database: str) -> FastAPI:
    """The app over these workspaces with the tests' users (USERS) and a seeded story."""
    application = create_app(folders, database)
    state = site(application).state
    for email, (workspace, role) in USERS.items():
        state.add_user(email, email.split("@")[0].title(), PASSWORD, workspace, role, "tests")
    state.grant(VISITOR, "elsewhere", Role.ANALYST, "tests")
    seed_story(application, "contributor@example.org")
    return application


@pytest.fixture(scope="session")
def app(workspaces: tuple[Path, Path], database: str) -> FastAPI:
    return app_with_users(list(workspaces), database)


@pytest.fixture(scope="session")
def seed() -> Callable[[FastAPI, str], None]:
    """seed_story, for an app a test module makes itself."""
    return seed_story


def seed_story(app: FastAPI, email: str) -> None:
    """A story and an action for the first priority, so that their pages have content."""
    site_: Site = app.state.site
    served = site_.workspaces["tower-hamlets"]
    priority = served.map["priorities"][0]["id"]
    subject = subject_of(served, "priority", priority)
    assert subject is not None
    period = served.periods(subject.indicators)[0]
    account = site_.state.account(site_.state.sign_in(email, PASSWORD, "tests"))
    assert account is not None
    partner = sorted(served.partners)[0]
    site_.state.save_narrative(account, "tower-hamlets", "priority", priority, period,
                               "Bookings rose after the hub sessions began.",
                               "More midwives in the hubs.", (partner,))
    site_.state.add_action(account, "tower-hamlets", "priority", priority, ActionFields(
        period, "Run antenatal sessions in every hub", "Head of midwifery", partner,
        date(2026, 3, 31), "open"))
    # A quarterly review of the priority (review 1), by the contributor granted it.
    site_.state.grant_review(email, "tower-hamlets", "priority", priority, "tests")
    quarter = served.project.quarters()[0]
    site_.state.add_review(account, "tower-hamlets", ReviewFields(
        "priority", priority, quarter, date(2025, 8, 14), "Bookings rose in the hubs.",
        "Keep the sessions."), served.project.snapshot(subject.indicators, quarter))

    seed_rounds(site_, VISITOR if site_.state.has_user(VISITOR) else email)


def seed_rounds(site_: Site, rater: str) -> None:
    """The example's self-assessment rounds (two closed, the third open with `rater` among
    its respondents), opened by an administrator of the example's own."""
    if not site_.state.has_user(ROUNDS_ADMIN):
        site_.state.add_user(ROUNDS_ADMIN, "Rounds admin", PASSWORD, "tower-hamlets",
                             Role.ADMIN, "tests")
    served = site_.workspaces["tower-hamlets"]
    made = demo_rounds(site_.state, "tower-hamlets", served.project.round_features(),
                       set(served.partners), ROUNDS_ADMIN, "tests", rater)
    assert made == 3

def site(app: FastAPI) -> Site:
    found: Site = app.state.site
    return found


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    token = csrf_of(client.get("/sign-in").text)
    done = client.post("/sign-in", data={"email": email, "password": password,
                                         "csrf_token": token, "next": "/"},
                       follow_redirects=False)
    assert done.status_code == 303, done.text
    return client


@pytest.fixture(scope="session")
def indicator(example: Served) -> str:
    """The published indicator with the most rows (several periods, areas and breakdowns)."""
    table = example.results()
    assert table is not None and table.num_rows
    ids = table.column("indicator_id").to_pylist()
    return max(sorted(set(ids)), key=ids.count)


@pytest.fixture
def csrf() -> Callable[[str], str]:
    return csrf_of


@pytest.fixture
def client(app: FastAPI) -> Callable[[str | None], TestClient]:
    """A browser-like client (HTTPS, so that the Secure cookies are sent), signed in as the
    given user, or anonymous for None."""
    def make(email: str | None) -> TestClient:
        c = TestClient(app, base_url="https://testserver")
        return sign_in(c, email) if email else c
    return make


@pytest.fixture(scope="session")
def example(workspaces: tuple[Path, Path]) -> Served:
    return Served.load(workspaces[0])


@pytest.fixture(scope="session")
def paths(example: Served) -> list[str]:
    """Every page that the visitor can see."""
    return pages_of(example)


@pytest.fixture(scope="session")
def pages() -> Callable[[Served], list[str]]:
    """pages_of, for a test with a workspace of its own."""
    return pages_of


def pages_of(served: Served) -> list[str]:
    """Every page of a workspace (and of the other one) that the visitor can see."""
    base = f"/w/{served.id}"
    table = served.results()
    assert table is not None
    computed = sorted(set(table.column("indicator_id").to_pylist()))
    uncomputed = sorted(set(served.indicators) - set(computed))[:1]
    return [
        "/",
        base,
        *(f"{base}/priorities/{p['id']}" for p in served.map["priorities"]),
        *(f"{base}/priorities/{p['id']}/story" for p in served.map["priorities"]),
        *(f"{base}/indicators/{i}" for i in computed + uncomputed),
        f"{base}/indicators/{computed[0]}/story",
        f"{base}/actions/1",  # seeded by seed_story
        f"{base}/actions",
        f"{base}/actions?show=overdue",
        f"{base}/reviews",
        f"{base}/reviews/1",  # seeded by seed_story
        f"{base}/strategy",
        f"{base}/strategy?as-of=2024-01-01",
        *(f"{base}/localities/{loc['id']}" for loc in served.map["localities"]),
        f"{base}/data",
        f"{base}/conditions",
        *(f"{base}/rounds/{n}" for n in (1, 2, 3)),  # seeded by seed_rounds
        f"{base}/rounds/3/rate",  # the visitor is one of its respondents
        "/w/elsewhere",  # a workspace before its first load
        "/docs",  # the API's documentation
    ]


Serve = Callable[..., "contextlib.AbstractContextManager[tuple[str, subprocess.Popen[str]]]"]
UntilServing = Callable[[str, "subprocess.Popen[str]"], None]


def _until_serving(base: str, server: subprocess.Popen[str]) -> None:
    """Waits (two minutes at most) until the server started as `server` answers /health."""
    import time
    import urllib.request

    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health") as answer:
                assert answer.read() == b"ok"
                return
        except OSError:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, f"nothing served at {base} within 120 s"
            time.sleep(0.2)


@pytest.fixture
def until_serving() -> UntilServing:
    """`_until_serving`, for the tests that start a server themselves (outcomes demo)."""
    return _until_serving


@pytest.fixture
def serve() -> Serve:
    """`outcomes serve` in a real process on a free loopback port: a context manager giving
    its base URL and process, stopped at the end."""
    import os
    import socket

    @contextmanager
    def run(folders: list[Path], database: str, workers: int = 1
            ) -> Iterator[tuple[str, subprocess.Popen[str]]]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        exe = Path(sys.executable).with_name("outcomes")
        server = subprocess.Popen(
            [str(exe), "serve", *map(str, folders), "--port", str(port), "--workers",
             str(workers)], env={**os.environ, "DATABASE_URL": database},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        base = f"http://127.0.0.1:{port}"
        try:
            _until_serving(base, server)
            yield base, server
        finally:
            server.terminate()
            server.wait(timeout=30)
    return run
