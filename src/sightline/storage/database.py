"""SQLAlchemy engines that behave well on SQLite and PostgreSQL alike.

SQLite allows one writer at a time. Write transactions start with `BEGIN IMMEDIATE` so two
writers queue on the database lock (bounded by `busy_timeout`) instead of failing half-way with
"database is locked" when a read transaction tries to upgrade; a process-local lock keeps this
process's own threads from even contending. Readers use plain deferred transactions and, thanks
to WAL mode, never wait for the writer.

PostgreSQL (`postgresql://…` or `postgresql+psycopg://…`) always goes through psycopg 3, the
`scale` extra; SQLAlchemy would otherwise pick psycopg2. Transactions are READ COMMITTED: writers
that must not lose each other's updates lock the rows they change (`SELECT … FOR UPDATE`). Each
process keeps a pool of `pool_size` connections (default 5) and opens up to `max_overflow` more
under load (default 10), so one process never holds more than 15: an API replica's request
threads and a worker's job threads share it, and PostgreSQL's default `max_connections` (100)
serves six such processes. Both are URL query parameters, taken off before connecting, e.g.
`postgresql://user:secret@db/sightline?pool_size=10&max_overflow=20`. Connections are checked
before use (`pool_pre_ping`), so a restarted server costs one reconnect, not a failed request.
"""

from __future__ import annotations

import importlib.util
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from sightline.errors import BackendError, ConfigurationError, InsufficientStorage

SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_SIZE = 5
MAX_OVERFLOW = 10
SCALE_EXTRA = "pip install 'sightline[scale]'"


class Database:
    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigurationError(f"Invalid database URL {url!r}: {exc}") from exc
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._write_lock = threading.Lock() if self.is_sqlite else None
        # An SQLite file and its folder: on this machine's disk, so its free space matters.
        self.path: Path | None = None
        self.folder: Path | None = None
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                self.path = Path(parsed.database).resolve()
                self.folder = self.path.parent
                self.folder.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(parsed, connect_args={"check_same_thread": False})
            _configure_sqlite(self.engine)
        else:
            self.engine = _server_engine(parsed)

    @contextmanager
    def write(self, *, schema_change: bool = False) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any exception; a full disk
        is `InsufficientStorage`.

        `schema_change` (migrations): on SQLite, foreign keys are not enforced until the
        transaction ends, and are checked before it commits. Changing a table there means
        copying it and dropping the original, and dropping a table with foreign keys enforced
        first deletes its rows, cascading to every row that references them. The switch only
        takes effect outside a transaction, hence here."""
        try:
            if self._write_lock is None:
                with self.engine.begin() as conn:
                    yield conn
                return
            with self._write_lock, self.engine.connect() as conn:
                conn.info["immediate"] = True
                if schema_change:
                    _enforce_foreign_keys(conn, False)
                try:
                    with conn.begin():
                        yield conn
                        if schema_change:
                            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                            if broken is not None:
                                raise BackendError(
                                    f"A schema change broke a foreign key: {tuple(broken)}."
                                )
                finally:
                    conn.info.pop("immediate", None)
                    if schema_change:
                        _enforce_foreign_keys(conn, True)
        except OperationalError as exc:
            if _disk_full(exc):
                raise InsufficientStorage(
                    "Writing to the catalog failed: its disk is full."
                ) from exc
            raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read transaction that sees one moment throughout, for reads that must agree with
        each other: an SQLite read transaction does (WAL); on PostgreSQL, REPEATABLE READ."""
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def copy_to(self, target: Path) -> None:
        """Copy an SQLite database into the file `target` while others go on using it: SQLite's
        online backup copies one consistent moment in one step (WAL readers and writers never
        wait for it)."""
        with _sqlite(self._file()) as source, _sqlite(target) as copy:
            source.backup(copy)

    def restore_from(self, source: Path) -> None:
        """Replace this SQLite database's contents with the database in the file `source`.
        SQLite writes the pages itself, write-ahead log included, so nothing of the old
        contents survives; no one else may be using the database meanwhile."""
        with _sqlite(source) as backup, _sqlite(self._file()) as target:
            backup.backup(target)

    def _file(self) -> Path:
        if self.path is None:
            raise ConfigurationError(f"{self.url!r} is not an SQLite database file.")
        return self.path

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection of our own, outside the pool, closed afterwards."""
    conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        yield conn
    finally:
        conn.close()


def _server_engine(url: URL) -> Engine:
    """A pooled engine for a database server; PostgreSQL always through psycopg 3."""
    pool: dict[str, int] = {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW}
    for name in pool:
        value = url.query.get(name)
        if value is None:
            continue
        try:
            pool[name] = int(value if isinstance(value, str) else value[-1])
        except ValueError as exc:
            raise ConfigurationError(f"The database URL's {name} must be a number.") from exc
    url = url.difference_update_query(list(pool))
    if url.get_backend_name() == "postgresql":
        if importlib.util.find_spec("psycopg") is None:
            raise ConfigurationError(f"A PostgreSQL catalog needs psycopg: {SCALE_EXTRA}")
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, pool_pre_ping=True, **pool)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself instead of pysqlite guessing.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")


def _enforce_foreign_keys(conn: Connection, enforce: bool) -> None:
    """Outside a transaction only: SQLite ignores the switch inside one, and SQLAlchemy would
    begin one for a statement sent through `conn`."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if enforce else 'OFF'}")
    finally:
        cursor.close()


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """Switch a database to WAL, waiting while another connection holds it.

    The switch is made once per database file, by whichever connection comes first. SQLite
    answers "database is locked" at once, without its busy handler, when another process is
    making the same switch, so it is retried here for up to the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


# SQLite's SQLITE_FULL, PostgreSQL's disk_full (class 53: insufficient resources).
SQLITE_FULL = 13
POSTGRES_DISK_FULL = "53100"


def _disk_full(exc: OperationalError) -> bool:
    driver_error = exc.orig
    return (
        getattr(driver_error, "sqlite_errorcode", None) == SQLITE_FULL
        or getattr(driver_error, "sqlstate", None) == POSTGRES_DISK_FULL
    )
