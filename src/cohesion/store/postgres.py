"""A throwaway PostgreSQL server of our own, on 127.0.0.1, for the server mode and its tests.

The Carrefour des innovations sociales keeps what users write in a relational store and
its search index in PostgreSQL when it runs in server mode. Tests, benchmarks and a
developer's machine need such a server without an administrator: :class:`PostgresServer`
creates a cluster in a folder with Debian's ``initdb``, starts ``postgres`` on a free
loopback port (and a Unix socket in the folder), creates a database, and stops the
process it started — by its process id, never anything else — however the block ends.

When run as root (CI containers), the cluster belongs to the ``postgres`` account, which
Debian's package creates: PostgreSQL refuses to run as root.

Examples
--------
>>> server = PostgresServer(Path("/tmp/x"))  # nothing starts before .start()
>>> server.url("carrefour").startswith("postgresql+psycopg://cohesion@127.0.0.1:")
True
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cohesion.errors import UnavailableError
from cohesion.geo.geocoding import free_port, stop

#: The cluster's superuser; it logs in over loopback without a password (``trust``).
USER = "cohesion"


def postgres_binaries() -> Path:
    """The folder of ``initdb`` and ``postgres`` (Debian: ``/usr/lib/postgresql/NN/bin``).

    Raises
    ------
    UnavailableError
        When PostgreSQL is not installed.
    """
    on_path = shutil.which("initdb")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise UnavailableError("PostgreSQL est introuvable : l'installer (Debian : apt-get "
                               "install postgresql, ou `make system`)")
    return Path(found[-1]).parent


def _as_postgres_user() -> tuple[int, int] | None:
    """The uid and gid to run the server as: ``postgres`` when we are root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        account = pwd.getpwnam("postgres")
    except KeyError as error:
        raise UnavailableError("PostgreSQL refuse de tourner en root et le compte "
                               "« postgres » n'existe pas") from error
    return account.pw_uid, account.pw_gid


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in ``directory``, served on ``127.0.0.1:port`` while running.

    Parameters
    ----------
    directory : Path or None
        Folder of the cluster (created, or reused when it holds one already). When run
        as root, the ``postgres`` account must be able to reach it. None: a new
        temporary folder, removed when the server stops (tests, benchmarks).
    port : int
        TCP port on 127.0.0.1; a free one by default.
    """

    directory: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    temporary: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="cohesion-postgres-"))
            self.temporary = True

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy address of ``database`` on this server (psycopg 3 driver)."""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """The libpq address of ``database`` (for ``psycopg.connect``)."""
        return f"host=127.0.0.1 port={self.port} user={USER} dbname={database}"

    def _run(self, *command: str) -> None:
        owner = _as_postgres_user()
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              user=owner[0] if owner else None,
                              group=owner[1] if owner else None)
        if done.returncode != 0:
            raise UnavailableError(f"{Path(command[0]).name} a échoué (code "
                                   f"{done.returncode}) : {done.stderr.strip()[-600:]}")

    def initialise(self) -> None:
        """Create the cluster unless ``directory`` already holds one."""
        data = self.directory / "data"
        if (data / "PG_VERSION").exists():
            return
        data.mkdir(parents=True, exist_ok=True)
        owner = _as_postgres_user()
        if owner:
            for path in (self.directory, data):
                os.chown(path, *owner)
        self._run(str(postgres_binaries() / "initdb"), "-D", str(data), "-U", USER,
                  "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")

    def start(self, timeout: float = 60.0) -> None:
        """Start the server on 127.0.0.1 and wait until it accepts connections."""
        import psycopg

        self.initialise()
        owner = _as_postgres_user()
        self.process = subprocess.Popen(
            [str(postgres_binaries() / "postgres"), "-D", str(self.directory / "data"),
             "-h", "127.0.0.1", "-p", str(self.port), "-k", str(self.directory.resolve()),
             "-c", "fsync=off", "-c", "full_page_writes=off",
             "-c", "synchronous_commit=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            user=owner[0] if owner else None, group=owner[1] if owner else None)
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.dsn(), connect_timeout=2).close()
                return
            except psycopg.OperationalError as error:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise UnavailableError(
                        f"PostgreSQL ne démarre pas sur 127.0.0.1:{self.port} : "
                        f"{error}") from error
                time.sleep(0.2)

    def create_database(self, name: str) -> str:
        """Create database ``name`` if it does not exist; return its SQLAlchemy address."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                        (name,)).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the process this object started (SIGTERM: PostgreSQL's smart shutdown)."""
        if self.process is not None:
            stop(self.process, timeout=30.0)
            self.process = None
        if self.temporary:
            shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def running_postgres(directory: Path | None = None,
                     port: int | None = None) -> Iterator[PostgresServer]:
    """A block during which a :class:`PostgresServer` of ``directory`` runs."""
    server = PostgresServer(directory, port) if port else PostgresServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
