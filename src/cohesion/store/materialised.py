"""Tables derived from a warehouse's content, kept in files beside it for later processes.

The indicator engine's commune inputs of a vintage (observations pivoted and converted
to that geography), the memberships of each level and the numbering of the communes
take a few tenths of a second to compute from the national files, and a new process
(a server after a start, each CLI command) had to compute them again although nothing
had changed. They depend on the warehouse's content alone, so the first process that
computes them writes them here and every later process maps them into memory: Arrow IPC
files, read without a copy and read-only, as a materialised view refreshed on import.

Files live in ``<warehouse file>.materialised/<content>/``, where ``<content>`` is a
digest of :meth:`~cohesion.store.warehouse.Warehouse.content_key` (an import or a build
gives a new one) and of the code that computes them (:data:`FINGERPRINT`), so that
neither an import nor an upgrade can serve stale tables. The folders of other contents
are removed when a new one is made. Files are written under a temporary name then
renamed, so a reader sees a whole file or none.

Nothing here is needed for a correct answer: a folder that cannot be written (a
read-only disk) or a file that disappears (another process cleaning up) only means
that the table is computed again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
from collections.abc import Hashable, Iterable
from pathlib import Path

import pyarrow as pa

#: Bump when the layout of the files changes.
FORMAT = 1
#: Folder suffix beside the warehouse file.
SUFFIX = ".materialised"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.@=-]+$")

logger = logging.getLogger(__name__)


def code_fingerprint(modules: Iterable[str]) -> str:
    """A digest of the source of ``modules``: tables computed by other code are not read.

    Examples
    --------
    >>> len(code_fingerprint(["cohesion.store.materialised"]))
    16
    """
    import importlib.util

    digest = hashlib.sha256(str(FORMAT).encode())
    for name in sorted(modules):
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        digest.update(name.encode())
        digest.update(Path(origin).read_bytes() if origin else b"")
    return digest.hexdigest()[:16]


class MaterialisedFiles:
    """The Arrow tables kept beside one warehouse for one content.

    Parameters
    ----------
    folder : Path or None
        Where the tables of this content are; None keeps nothing (an in-memory
        warehouse).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as work:
    ...     files = MaterialisedFiles.beside(Path(work) / "w.duckdb", ("w", 1), "code")
    ...     files.write("codes-COM-2024", pa.table({"code": ["01001", "01002"]}))
    ...     files.read("codes-COM-2024").column("code").to_pylist(), files.read("x")
    (['01001', '01002'], None)
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._prepared = False
        self._lock = threading.Lock()

    @classmethod
    def beside(cls, warehouse_file: Path | None, content_key: Hashable | None,
               fingerprint: str) -> MaterialisedFiles:
        """The files of ``content_key`` (computed by code of ``fingerprint``) beside a file."""
        if warehouse_file is None or content_key is None:
            return cls(None)
        digest = hashlib.sha256(repr((content_key, fingerprint)).encode()).hexdigest()[:20]
        return cls(Path(f"{warehouse_file}{SUFFIX}") / digest)

    def read(self, name: str) -> pa.Table | None:
        """The table ``name``, memory-mapped, or None if it was never written."""
        if self.folder is None:
            return None
        try:
            with pa.memory_map(str(self._path(name))) as source:
                return pa.ipc.open_file(source).read_all()
        except (OSError, pa.ArrowInvalid):
            return None

    def names(self, prefix: str) -> list[str]:
        """The names of the tables written so far that start with ``prefix``."""
        if self.folder is None:
            return []
        try:
            found = [entry.name[:-len(".arrow")] for entry in os.scandir(self.folder)
                     if entry.name.startswith(prefix) and entry.name.endswith(".arrow")]
        except OSError:
            return []
        return sorted(found)

    def write(self, name: str, table: pa.Table) -> None:
        """Keep ``table`` as ``name`` (whole or not at all; failures are only logged)."""
        if self.folder is None:
            return
        path = self._path(name)
        temporary = path.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self._prepare()
            with pa.OSFile(str(temporary), "wb") as sink, \
                    pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            os.replace(temporary, path)
        except OSError as error:
            logger.info("materialised table %s not kept: %s", name, error)
            temporary.unlink(missing_ok=True)

    def _path(self, name: str) -> Path:
        if not _SAFE_NAME.match(name):
            raise ValueError(f"not a table name: {name!r}")
        assert self.folder is not None
        return self.folder / f"{name}.arrow"

    def _prepare(self) -> None:
        """Make this content's folder, and remove the folders of other contents."""
        with self._lock:
            if self._prepared:
                return
            assert self.folder is not None
            self.folder.mkdir(parents=True, exist_ok=True)
            for other in self.folder.parent.iterdir():
                if other.is_dir() and other != self.folder:
                    shutil.rmtree(other, ignore_errors=True)
            self._prepared = True
