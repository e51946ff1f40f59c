"""The alert store's contract, the same tests on SQLite and on a real PostgreSQL server.

The PostgreSQL server is a throw-away one: ``initdb`` and ``pg_ctl`` (from PATH, or Debian's
/usr/lib/postgresql/<version>/bin) in a temporary folder, on a free loopback port, started once for
the session and only when a PostgreSQL test runs. As root it runs as ``nobody`` (initdb refuses
root). Every test gets a fresh database. Without psycopg or the server's binaries, the PostgreSQL
tests skip and say why; `make test` installs both (the dev extra, and Debian's postgresql).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pwd
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from logbert.results import ExpectedKey, PositionExplanation
from logbert.service.alerts import AlertFilter, AlertStore, AlertStoreError, SQLiteAlertStore, mask_url
from logbert.service.app import create_app, open_alert_store
from logbert.service.settings import PG_JOURNAL_DIR, Settings
from logbert.streaming import AlertRecord

from ..streaming.fakes import FakeDetector, vm_lines
from .conftest import free_port, make_settings

SECRET = "s3cret-Pw"  # in every PostgreSQL URL here (trust auth ignores it): it must never show
ANOMALOUS = [0, 1, 42, 3]  # 42 is an unseen template: the fake detector's window is anomalous


# -- a throw-away PostgreSQL server ----------------------------------------------------------------
def _pg_bindir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: PATH first, then Debian's newest version."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )
    candidates += reversed(debian)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


class PgServer:
    """``initdb`` + ``pg_ctl`` in ``root``; ``stop``/``start`` for the outage tests."""

    def __init__(self, bindir: Path, root: Path, run_as: str | None) -> None:
        self.bindir, self.root, self.run_as = bindir, root, run_as
        self.data = root / "data"
        self.port = free_port()

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / tool), *args]
        if self.run_as is not None:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)

    def init(self) -> subprocess.CompletedProcess[str]:
        return self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "logbert", "--no-sync", "--no-locale", "-E", "UTF8"
        )

    def start(self) -> subprocess.CompletedProcess[str]:
        # a throw-away server: its own socket folder and port, no durability to pay for
        fast = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        options = f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 {fast}"
        return self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "30",
            "-o",
            options,
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        done = self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
        assert done.returncode == 0, done.stderr

    def url(self, dbname: str, password: str | None = SECRET) -> str:
        user = "logbert" if password is None else f"logbert:{password}"
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        """A fresh, empty database; its URL (with the SECRET password)."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install 'logbert[postgres]')")
    pytest.importorskip("psycopg_pool", reason="psycopg-pool not installed (pip install 'logbert[postgres]')")
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql, or `make test` as root"
        )
    run_as = None
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root and no runuser to start PostgreSQL as another user")
        run_as = "nobody"
        pwd.getpwnam(run_as)
    root = Path(tempfile.mkdtemp(prefix="logbert-pg-"))  # short: the socket path must stay < 108 bytes
    if run_as is not None:
        shutil.chown(root, user=run_as)
    server = PgServer(bindir, root, run_as)
    for step in (server.init, server.start):
        done = step()
        if done.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            pytest.skip(f"cannot run PostgreSQL from {bindir} ({step.__name__}): {(done.stderr or done.stdout)[-400:]}")
    try:
        yield server
    finally:
        server._run("pg_ctl", "-D", str(server.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


# -- one backend per store: the same tests run on both ---------------------------------------------
@dataclass
class Backend:
    name: str
    location: Path | str  # what Settings.alerts_db is given
    outage: Callable[[], AbstractContextManager[None]]  # while inside, writes fail
    stores: list[AlertStore] = dataclasses.field(default_factory=list)

    def open(self, artifact_id: str | None = None, busy_timeout_s: float = 10.0) -> AlertStore:
        store: AlertStore
        if isinstance(self.location, str):
            from logbert.service.alerts_pg import PostgresAlertStore

            store = PostgresAlertStore(self.location, artifact_id=artifact_id, busy_timeout_s=busy_timeout_s)
        else:
            store = SQLiteAlertStore(self.location, artifact_id=artifact_id, busy_timeout_s=busy_timeout_s)
        self.stores.append(store)
        return store


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        db = tmp_path / "alerts.sqlite3"

        @contextmanager
        def locked() -> Iterator[None]:  # another process holds the write lock
            blocker = sqlite3.connect(db, timeout=0)
            blocker.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                blocker.rollback()
                blocker.close()

        b = Backend("sqlite", db, locked)
    else:
        server: PgServer = request.getfixturevalue("pg_server")

        @contextmanager
        def server_down() -> Iterator[None]:
            server.stop()
            try:
                yield
            finally:
                done = server.start()
                assert done.returncode == 0, done.stderr

        b = Backend("postgres", server.create_database(), server_down)
    yield b
    for store in b.stores:
        store.close()


def record(
    session: str = "vm-1",
    offset: int | None = None,
    score: float = 2.0,
    created: float = 1000.0,
    window: int = 0,
    name: str | None = None,
) -> AlertRecord:
    miss = PositionExplanation(
        position=2,
        key_id=42,
        template=None,
        expected=(ExpectedKey("T0 <*>", 0.75), ExpectedKey("T1", 0.25)),
        line_no=7,
        raw="INFO nova [instance: vm-1] k42 é ünïcode",
    )
    return AlertRecord(
        session_id=session,
        source="nova.log",
        window_index=window,
        anomaly_score=score,
        threshold=0.5,
        miss_ratio=0.25,
        dist_score=0.125,
        n_keys=4,
        n_misses=1,
        n_unknown=1,
        n_marks=1,  # kept in the row's detail: read back equal
        created_at=created,
        first_line_no=5,
        last_line_no=8,
        reason="closed",
        stream_offset=offset,
        misses=(miss,),
        surprises=("session of 2 keys: 0 of 40 normal training sessions were this short (shortest 13 keys)",),
        window=name,
    )


def _record_of(stored: Any) -> AlertRecord:
    return AlertRecord(**{f.name: getattr(stored, f.name) for f in dataclasses.fields(AlertRecord)})


# -- the behaviour, on both stores -----------------------------------------------------------------
def test_add_list_filter_and_get(backend: Backend) -> None:
    store = backend.open()
    alerts = [
        record("vm-1", offset=0, score=1.0, created=100.0),
        record("vm-2", offset=0, score=3.0, created=200.0),
        record("vm-1", offset=10, score=5.0, created=300.0, window=1, name="t1"),  # a time window's name: kept
        record("vm-3", offset=None, score=0.75, created=400.0),
    ]
    store.add_alerts(alerts)
    assert store.count() == 4 and store.n_unsaved == 0

    listed, total = store.list_alerts(AlertFilter())
    assert total == 4
    assert [_record_of(a) for a in listed] == alerts[::-1]  # newest first, every field as it was
    assert [a.id for a in listed] == sorted((a.id for a in listed), reverse=True)

    def ids(flt: AlertFilter) -> tuple[list[str], int]:
        found, n = store.list_alerts(flt)
        return [f"{a.session_id}@{a.created_at:.0f}" for a in found], n

    assert ids(AlertFilter(session_id="vm-1")) == (["vm-1@300", "vm-1@100"], 2)
    assert ids(AlertFilter(min_score=3.0)) == (["vm-1@300", "vm-2@200"], 2)
    assert ids(AlertFilter(since=200.0, until=400.0)) == (["vm-1@300", "vm-2@200"], 2)
    assert ids(AlertFilter(after_id=listed[2].id)) == (["vm-3@400", "vm-1@300"], 2)
    assert ids(AlertFilter(limit=1, offset=1)) == (["vm-1@300"], 4)  # a page, and the total
    assert ids(AlertFilter(session_id="vm-1", min_score=2.0, since=0.0)) == (["vm-1@300"], 1)

    one = store.get(listed[0].id)
    assert one is not None and one == listed[0]
    assert store.get(10**9) is None


def test_incidents_group_a_sessions_alerts_and_keep_a_persons_decision(backend: Backend) -> None:
    store = backend.open()
    store.add_alerts(
        [
            record("vm-1", offset=0, score=1.0, created=100.0),
            record("vm-2", offset=0, score=3.0, created=200.0),
            record("vm-1", offset=10, score=5.0, created=300.0),
        ]
    )
    incidents, total = store.list_incidents()
    assert total == 2 and [i.session_id for i in incidents] == ["vm-1", "vm-2"]  # most recent alert first
    vm1 = incidents[0]
    assert (vm1.status, vm1.n_alerts, vm1.max_score, vm1.first_alert_at, vm1.last_alert_at, vm1.note) == (
        "open",
        2,
        5.0,
        100.0,
        300.0,
        None,
    )
    assert vm1.source == "nova.log" and vm1.last_alert_id == store.list_alerts(AlertFilter(session_id="vm-1"))[0][0].id

    assert store.set_incident_status("vm-2", "acknowledged", "disk failure", now=10.0) is True
    assert store.set_incident_status("vm-1", "normal", None, now=11.0) is True
    assert store.set_incident_status("vm-9", "acknowledged", None, now=12.0) is False  # no alert: nothing to decide
    assert store.set_incident_status("vm-1", "acknowledged", "after all", now=13.0) is True  # a decision changes
    assert store.acknowledged_ids() == ["vm-2", "vm-1"]  # oldest decision first

    acked, n = store.list_incidents(status="acknowledged")
    assert n == 2 and [(i.session_id, i.note) for i in acked] == [("vm-1", "after all"), ("vm-2", "disk failure")]
    assert store.list_incidents(status="open") == ([], 0)
    page, n = store.list_incidents(limit=1, offset=1)
    assert n == 2 and [i.session_id for i in page] == ["vm-2"]


def test_a_store_belongs_to_one_artifact(backend: Backend) -> None:
    backend.open(artifact_id="a" * 64).close()
    backend.open(artifact_id="a" * 64).close()  # the same artifact: reopens
    backend.open().close()  # no identity to check (an injected detector)
    with pytest.raises(AlertStoreError, match="alerts of another artifact") as refused:
        backend.open(artifact_id="b" * 64)
    assert SECRET not in str(refused.value)


def test_an_alert_produced_again_is_stored_once(backend: Backend) -> None:
    store = backend.open()
    first = [record("vm-1", offset=0), record("vm-1", offset=7), record("vm-2", offset=0)]
    store.add_alerts(first)
    store.add_alerts([record("vm-1", offset=7, score=9.0), record("vm-1", offset=8)])  # a replay, and one new
    store.add_alerts([record("vm-3", offset=1), record("vm-3", offset=1)])  # twice in one batch
    store.add_alerts([record("vm-4"), record("vm-4")])  # no offset (no journal): never the same window
    assert store.count() == 7 and store.n_unsaved == 0
    replayed = store.list_alerts(AlertFilter(session_id="vm-1"))[0]
    assert sorted((a.stream_offset, a.anomaly_score) for a in replayed) == [
        (0, 2.0),
        (7, 2.0),
        (8, 2.0),
    ]  # the first kept


def test_only_alerts_the_store_did_not_hold_reach_its_listeners(backend: Backend) -> None:
    """What the webhook listens to: an alert a journal replay produces again is not told again, a kept one is told
    once a retry stores it, and a failing listener loses no alert."""
    store = backend.open(busy_timeout_s=0.5)
    told: list[AlertRecord] = []
    store.on_stored(told.extend)

    def keys() -> list[tuple[str, int | None]]:
        return [(a.session_id, a.stream_offset) for a in told]

    store.add_alerts([record("vm-1", offset=0), record("vm-1", offset=7)])
    store.add_alerts([record("vm-1", offset=7, score=9.0), record("vm-1", offset=8)])  # a replay's, and one new
    store.add_alerts([record("vm-3", offset=1), record("vm-3", offset=1), record("vm-4"), record("vm-4")])
    assert keys() == [("vm-1", 0), ("vm-1", 7), ("vm-1", 8), ("vm-3", 1), ("vm-4", None), ("vm-4", None)]
    assert told[1].anomaly_score == 2.0 and store.n_repeated == 2  # the alert as stored: the first one
    told.clear()
    with backend.outage():
        store.add_alerts([record("vm-5", offset=0), record("vm-1", offset=0)])  # kept: not stored, so not told
        assert told == [] and store.n_unsaved == 2
    deadline = time.monotonic() + 20
    while store.retry_unsaved() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert keys() == [("vm-5", 0)] and store.n_repeated == 3
    told.clear()

    def broken(alerts: object) -> None:
        raise RuntimeError("a listener's bug")

    store.on_stored(broken)
    store.add_alerts([record("vm-6", offset=0)])
    assert keys() == [("vm-6", 0)] and store.n_unsaved == 0 and store.count() == 8


def test_a_failed_write_is_kept_in_order_and_retried(backend: Backend) -> None:
    store = backend.open(busy_timeout_s=0.5)
    store.add_alerts([record("vm-1", offset=0, created=1.0)])
    with backend.outage():
        store.add_alerts([record("vm-2", offset=0, created=2.0), record("vm-2", offset=5, created=3.0)])
        assert store.n_unsaved == 2
        store.add_alerts([record("vm-3", offset=0, created=4.0)])  # the kept ones go first, and fail again
        assert store.n_unsaved == 3
        assert store.retry_unsaved() == 3
    deadline = time.monotonic() + 20  # the service's reaper retries every idle_check_interval_s
    while store.retry_unsaved() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert store.n_unsaved == 0
    stored = sorted(store.list_alerts(AlertFilter())[0], key=lambda a: a.id)
    assert [a.created_at for a in stored] == [1.0, 2.0, 3.0, 4.0]  # nothing lost, in the order produced
    store.add_alerts([record("vm-3", offset=0, created=4.0)])  # and written again, stored once
    assert store.count() == 4


def test_concurrent_writers_store_each_alert_exactly_once(backend: Backend) -> None:
    shared = [record(f"vm-{s}", offset=o, created=float(o)) for s in range(5) for o in range(0, 200, 10)]  # 100
    writers = 3
    stores = [backend.open() for _ in range(writers)]  # one store (connection, pool) each: three replicas
    told: list[list[AlertRecord]] = [[] for _ in range(writers)]  # what each replica's webhook would push
    for store, own_told in zip(stores, told, strict=True):
        store.on_stored(own_told.extend)
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(i: int) -> None:
        try:
            batches = [shared[j : j + 10] for j in range(0, len(shared), 10)]
            random.Random(i).shuffle(batches)  # the same alerts, in another order by each writer
            own = [record(f"own-{i}", offset=None, created=float(k)) for k in range(10)]
            start.wait(10)
            for k, batch in enumerate(batches):
                stores[i].add_alerts([*batch, own[k]])
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures and all(not t.is_alive() for t in threads)
    assert [s.n_unsaved for s in stores] == [0] * writers
    listed, total = stores[0].list_alerts(AlertFilter(limit=1000))
    assert total == len(shared) + writers * 10
    keyed = [(a.session_id, a.stream_offset) for a in listed if a.stream_offset is not None]
    assert sorted(keyed) == sorted((a.session_id, a.stream_offset) for a in shared)  # each once, none lost
    assert len({a.id for a in listed}) == total
    pushed = [(a.session_id, a.stream_offset) for t in told for a in t if a.stream_offset is not None]
    assert sorted(pushed) == sorted(keyed)  # each alert told to the one replica that stored it
    assert sum(s.n_repeated for s in stores) == len(shared) * (writers - 1)


# -- PostgreSQL only -------------------------------------------------------------------------------
def test_migrations_are_versioned_applied_once_and_a_newer_schema_is_refused(pg_server: PgServer) -> None:
    import psycopg

    from logbert.service.alerts_pg import PostgresAlertStore, migrations

    url = pg_server.create_database()
    opened: list[PostgresAlertStore] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def open_one() -> None:  # three replicas starting together on an empty database
        try:
            start.wait(10)
            opened.append(PostgresAlertStore(url, artifact_id="a" * 64))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(opened) == 3
    for store in opened:
        store.close()
    newest = migrations()[-1][0]
    with psycopg.connect(url, autocommit=True) as conn:
        versions = conn.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
        assert versions == [(v, name) for v, name, _ in migrations()] and versions[0] == (1, "0001_initial.sql")
        conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, 'from the future')", (newest + 1,))
    with pytest.raises(AlertStoreError, match=f"schema version {newest + 1}.*upgrade logbert") as refused:
        PostgresAlertStore(url)
    assert SECRET not in str(refused.value)


def test_the_service_stores_alerts_in_postgres_and_never_shows_the_password(
    pg_server: PgServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = pg_server.create_database()
    settings = make_settings(tmp_path, alerts_db=url, journal_dir=tmp_path / "journal")
    assert settings.alerts_db == url and settings.journal_path == tmp_path / "journal"
    with caplog.at_level(logging.INFO), TestClient(create_app(settings, detector=FakeDetector())) as client:
        assert client.post("/v1/ingest", json={"lines": vm_lines("vm-7", ANOMALOUS)}).status_code == 200
        assert client.post("/v1/sessions/close-all").json()["drained"] is True
        body = client.get("/v1/alerts").json()
        assert body["total"] == 1 and body["alerts"][0]["session_id"] == "vm-7"
        assert client.get("/health/ready").status_code == 200
    assert "logbert:***@127.0.0.1" in caplog.text  # the ready line names the database, masked
    assert SECRET not in caplog.text
    other = open_alert_store(settings)  # another replica, the same database
    try:
        assert [a.session_id for a in other.list_alerts(AlertFilter())[0]] == ["vm-7"]
    finally:
        other.close()


def test_an_unreachable_or_mangled_url_is_refused_without_its_password() -> None:
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install 'logbert[postgres]')")
    unreachable = f"postgresql://logbert:{SECRET}@127.0.0.1:{free_port()}/alerts"
    with pytest.raises(AlertStoreError, match="cannot open alerts database postgresql://logbert:\\*\\*\\*@") as e:
        open_alert_store(Settings(alerts_db=unreachable, alerts_busy_timeout_s=1))
    assert SECRET not in str(e.value)
    # a file-path option (typer's Path) folds "//": said plainly, not tried as a libpq string
    with pytest.raises(AlertStoreError, match="is not a PostgreSQL URL") as e:
        open_alert_store(Settings(alerts_db=Path(unreachable)))
    assert SECRET not in str(e.value)


# -- no server needed --------------------------------------------------------------------------------
def test_without_psycopg_a_postgres_url_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import logbert.service as service_pkg
    import logbert.service.alerts_pg as real  # imported first, so that the module is restored afterwards

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)
    monkeypatch.delitem(sys.modules, "logbert.service.alerts_pg")
    monkeypatch.setattr(service_pkg, "alerts_pg", real)
    settings = Settings(alerts_db=f"postgresql://logbert:{SECRET}@db.example:5432/alerts")
    with pytest.raises(AlertStoreError, match=r"pip install 'logbert\[postgres\]'") as e:
        open_alert_store(settings)
    assert SECRET not in str(e.value) and "postgresql://logbert:***@db.example:5432/alerts" in str(e.value)
    # the SQLite default does not need it
    store = open_alert_store(Settings(alerts_db=Path(":memory:")))
    assert store.count() == 0
    store.close()


def test_settings_keep_a_url_as_text_and_put_its_journal_in_its_own_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = "postgresql://logbert@db:5432/alerts"
    assert Settings(alerts_db=url).alerts_db == url
    assert Settings(alerts_db=url).journal_path == PG_JOURNAL_DIR == Path("logbert_journal")
    assert Settings(alerts_db=url, journal_dir=tmp_path).journal_path == tmp_path
    assert Settings(alerts_db=url, journal=False).journal_path is None
    assert Settings(alerts_db="alerts.sqlite3").alerts_db == Path("alerts.sqlite3")  # a file stays a Path
    assert Settings(alerts_db="alerts.sqlite3").journal_path == Path("alerts.sqlite3.journal")
    monkeypatch.setenv("LOGBERT_ALERTS_DB", "postgres://u@h/db")
    assert Settings().alerts_db == "postgres://u@h/db"
    monkeypatch.setenv("LOGBERT_ALERTS_DB", str(tmp_path / "a.db"))
    assert Settings().alerts_db == tmp_path / "a.db"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u@h/db?sslmode=require&password=pw", "postgresql://u@h/db?sslmode=require&password=***"),
        ("postgres://u:p%40w@h/db?sslpassword=k", "postgres://u:***@h/db?sslpassword=***"),
        ("postgresql://h:5432/db?application_name=a@b", "postgresql://h:5432/db?application_name=a@b"),
        ("postgresql:/u:pw@h/db", "postgresql:/u:***@h/db"),  # folded by a Path
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked
