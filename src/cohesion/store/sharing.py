"""One warehouse file shared by a running server and the command line.

DuckDB lets several processes read a file, or one process write it, never both. So:

- the server (:class:`SharedWarehouse`) reads through a read-only connection, one cursor
  per thread, and writes (an upload) by closing it, writing, and opening it again;
- a read-only command simply opens the file read-only, next to the server;
- a command that writes (import, build, fetch) first asks the running server to let go
  of the file (:func:`writing`): the server, announced by a :class:`ServerFile` next to
  the warehouse, finishes the requests under way, closes its connection and keeps it
  closed while the command's HTTP request stays open. When the command ends — or dies —
  the connection closes, the server opens the file again and its caches see the new
  content. Meanwhile answers already in its caches are still served; the others get a
  « busy » error (503) that tells the reader to retry.

When the file is held by a process that cannot be asked (another import), the user gets a
:class:`~cohesion.errors.WarehouseLockedError` naming it, never DuckDB's internal error.
"""

from __future__ import annotations

import contextlib
import contextvars
import http.client
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cohesion.errors import BusyError, WarehouseLockedError
from cohesion.store.warehouse import Warehouse

#: Path of the hold endpoint of a running server (not in the OpenAPI document).
HOLD_PATH = "/api/_warehouse/hold"
#: Seconds a server waits for the requests under way before it lets go of the file.
DRAIN_TIMEOUT_S = 60.0
#: Line the server sends once the file is released.
RELEASED = b"released\n"

#: Whether the current request started before a hold (it may read until it ends).
_admitted: contextvars.ContextVar[bool] = contextvars.ContextVar("admitted", default=False)


def process_name(pid: int) -> str:
    """A short description of a process from its command line (Linux), or « inconnu »."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "processus inconnu"
    words = [w.decode(errors="replace") for w in raw.split(b"\0") if w]
    if words and "cohesion" in " ".join(words):
        index = next((i for i, w in enumerate(words) if w.endswith("cohesion")), None)
        if index is not None:
            return "cohesion " + " ".join(words[index + 1:index + 3])
    return " ".join(Path(w).name if i == 0 else w for i, w in enumerate(words[:3])) \
        or "processus inconnu"


def locked_error(path: Path, message: str) -> WarehouseLockedError:
    """The French error for DuckDB's « Conflicting lock is held in … (PID n) »."""
    found = re.search(r"PID (\d+)", message)
    holder = f"le processus {found.group(1)} ({process_name(int(found.group(1)))})" \
        if found else "un autre processus"
    return WarehouseLockedError(
        f"l'entrepôt {path} est ouvert en écriture par {holder} : attendez qu'il ait "
        "fini, ou arrêtez-le, puis relancez la commande")


# -- the server's announcement --------------------------------------------------------


@dataclass(frozen=True)
class ServerFile:
    """A running server, announced next to its warehouse (``<warehouse>.server.json``).

    The file is readable by its owner only: the token it holds lets a local command ask
    the server to release the warehouse.
    """

    pid: int
    host: str
    port: int
    token: str

    @staticmethod
    def path_of(warehouse: Path) -> Path:
        """Where the server of ``warehouse`` is announced."""
        return warehouse.with_name(warehouse.name + ".server.json")

    @classmethod
    @contextlib.contextmanager
    def announce(cls, warehouse: Path, host: str, port: int, token: str) -> Iterator[None]:
        """Announce this process as the server of ``warehouse`` for a block."""
        path = cls.path_of(warehouse)
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump({"pid": os.getpid(), "host": local, "port": port, "token": token},
                      handle)
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                if cls.find(warehouse) is None or cls.find(warehouse).pid == os.getpid():
                    path.unlink()

    @classmethod
    def find(cls, warehouse: Path) -> ServerFile | None:
        """The live server announced for ``warehouse``, if any."""
        try:
            found = json.loads(cls.path_of(warehouse).read_text())
            server = cls(int(found["pid"]), str(found["host"]), int(found["port"]),
                         str(found["token"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        try:
            os.kill(server.pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return server


@contextlib.contextmanager
def writing(warehouse: Path, timeout: float = DRAIN_TIMEOUT_S + 30) -> Iterator[None]:
    """Write to ``warehouse`` for a block, asking its running server to let go first.

    Without a server, nothing to do. With one, its hold endpoint is called and the
    connection kept open for the block: the server answers « released » once it has
    closed the file, and opens it again when the connection closes.

    Raises
    ------
    WarehouseLockedError
        When the server does not answer or refuses.
    """
    server = ServerFile.find(warehouse)
    if server is None:
        yield
        return
    connection = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        connection.request("POST", HOLD_PATH, headers={
            "Authorization": f"Bearer {server.token}", "Content-Length": "0"})
        response = connection.getresponse()
        line = response.readline() if response.status == 200 else b""
    except OSError as error:
        connection.close()
        raise WarehouseLockedError(
            f"l'entrepôt {warehouse} est servi par « cohesion serve » (processus "
            f"{server.pid}), qui ne répond pas ({error}) : arrêtez-le, puis relancez la "
            "commande") from None
    if line != RELEASED:
        connection.close()
        raise WarehouseLockedError(
            f"l'entrepôt {warehouse} est servi par « cohesion serve » (processus "
            f"{server.pid}), qui n'a pas pu le libérer (réponse {response.status}) : "
            "réessayez quand ses calculs en cours seront finis, ou arrêtez-le")
    try:
        yield
    finally:
        connection.close()


# -- the server's side ----------------------------------------------------------------


class SharedWarehouse:
    """A warehouse read by many threads and written now and then, shared with others.

    Parameters
    ----------
    path : Path
        The DuckDB file, opened read-only.

    Threads read through :meth:`reader` (one cursor each). :meth:`admit` marks the
    requests under way; :meth:`released` waits for them, closes the file for a block
    and opens it again after; :meth:`write` does the same around a write of our own.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.token = secrets.token_urlsafe(32)
        self._condition = threading.Condition()
        self._active = 0
        self._holding = False
        self._generation = 0
        self._local = threading.local()
        self._cursors: list[Warehouse] = []
        self._root: Warehouse | None = Warehouse(self.path, read_only=True)

    @property
    def generation(self) -> int:
        """A number that changes each time the file is opened again."""
        return self._generation

    def reader(self) -> Warehouse:
        """The read-only cursor of the calling thread.

        Raises
        ------
        BusyError
            While the file is released, for work that started after the release.
        """
        with self._condition:
            if self._root is None or (self._holding and not _admitted.get()):
                raise BusyError("l'entrepôt est en cours de mise à jour par une autre "
                                "commande : réessayez dans un instant")
            if getattr(self._local, "generation", None) != self._generation:
                self._local.cursor = self._root.cursor()
                self._local.generation = self._generation
                self._cursors.append(self._local.cursor)
            return self._local.cursor

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        """Mark a request under way: a release waits for it to end."""
        with self._condition:
            admitted = not self._holding
            if admitted:
                self._active += 1
        token = _admitted.set(admitted)
        try:
            yield
        finally:
            _admitted.reset(token)
            if admitted:
                with self._condition:
                    self._active -= 1
                    self._condition.notify_all()

    @contextlib.contextmanager
    def released(self, timeout: float = DRAIN_TIMEOUT_S) -> Iterator[None]:
        """Close the file for a block (after the requests under way), then reopen it.

        Raises
        ------
        BusyError
            When another release is under way, or the requests under way do not end
            within ``timeout`` seconds (the file is then kept open).
        """
        with self._condition:
            if self._holding:
                raise BusyError("l'entrepôt est déjà en cours de mise à jour : réessayez "
                                "quand l'autre commande aura fini")
            self._holding = True
            # the request asking for the release is itself under way: do not wait for it
            own = 1 if _admitted.get() else 0
            deadline = time.monotonic() + timeout
            while self._active > own:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._holding = False
                    self._condition.notify_all()
                    raise BusyError("le serveur n'a pas fini ses calculs en cours : "
                                    "réessayez dans une minute")
                self._condition.wait(left)
            self._close()
        try:
            yield
        finally:
            with self._condition:
                self._root = Warehouse(self.path, read_only=True)
                self._generation += 1
                self._holding = False
                self._condition.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[Warehouse]:
        """A read-write connection for a block, the readers released meanwhile."""
        with self.released(), Warehouse(self.path) as writer:
            yield writer

    def close(self) -> None:
        """Close every connection."""
        with self._condition:
            self._close()

    def _close(self) -> None:
        for cursor in self._cursors:
            with contextlib.suppress(Exception):
                cursor.close()
        self._cursors.clear()
        if self._root is not None:
            self._root.close()
            self._root = None
