"""Reading the archives official files come in: zip, and 7-Zip when a reader is installed.

:func:`archive_members` lists the data files of an archive and :func:`extract_member`
copies one of them out, computing its size and SHA-256 on the way. Neither knows the
catalogue: :mod:`~cohesion.importers.fetch` picks the members an entry asks for and
turns an :class:`ArchiveError` into its own error, naming the dataset and its address.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cohesion.errors import CohesionError, ErrorKind

#: First bytes of a zip archive (``PK\x05\x06``: an empty one).
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
_CHUNK = 1 << 18


class ArchiveError(CohesionError):
    """An archive that cannot be read: not an archive, truncated, corrupt or encrypted."""

    kind = ErrorKind.BAD_FILE


class ArchiveReaderMissingError(ArchiveError):
    """A 7-Zip archive, and neither py7zr nor the ``7z`` program to read it.

    The file may be fine: this installation cannot open it.
    """

    kind = ErrorKind.CONFLICT


def archive_kind(path: Path) -> str:
    """``zip``, ``7z`` or ``unknown``, from the first bytes of ``path``."""
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(_SEVEN_ZIP_MAGIC):
        return "7z"
    return "unknown"


def archive_members(archive: Path, label: str) -> list[str]:
    """Names of the files in an archive (folders and macOS metadata left out).

    Parameters
    ----------
    archive : Path
        The archive.
    label : str
        How messages name it (the file name the user knows, not a temporary one).

    Raises
    ------
    ArchiveError
        Not a zip or 7-Zip archive, or one that cannot be read.
    """
    kind = archive_kind(archive)
    if kind == "zip":
        try:
            with zipfile.ZipFile(archive) as zipped:
                names = [i.filename for i in zipped.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError) as error:
            raise ArchiveError(f"{label} n'est pas une archive zip valide "
                               f"(tronquée ou corrompue : {error})") from error
    elif kind == "7z":
        try:
            names = _seven_zip(archive, label).list()
        except (subprocess.SubprocessError, OSError, EOFError) as error:
            raise ArchiveError(f"{label} n'est pas une archive 7-Zip lisible "
                               f"({error})") from error
    else:
        raise ArchiveError(f"{label} n'est pas une archive zip (c'est peut-être "
                           "une page web ou un autre format)")
    return [n for n in names if not n.startswith("__MACOSX/")
            and not PurePosixPath(n).name.startswith("._")]


def extract_member(archive: Path, member: str, target: Path) -> tuple[int, str]:
    """Copy one member to ``target``; return its size and SHA-256.

    Reading a zip member checks its CRC, so a corrupt archive fails here.

    Raises
    ------
    ArchiveError
        The member cannot be extracted (corrupt or encrypted archive) or is empty.
    """
    digest = hashlib.sha256()
    size = 0
    try:
        if archive_kind(archive) == "zip":
            with zipfile.ZipFile(archive) as zipped, zipped.open(member) as source, \
                    target.open("wb") as out:
                size = _copy(source, out, digest)
        else:
            _seven_zip(archive, archive.name).extract(member, target)
            with target.open("rb") as source:
                while block := source.read(_CHUNK):
                    digest.update(block)
                    size += len(block)
    except (zipfile.BadZipFile, zlib.error, subprocess.SubprocessError, RuntimeError, OSError,
            EOFError) as error:
        raise ArchiveError(f"impossible d'extraire {member} de l'archive "
                           f"(corrompue ou chiffrée : {error})") from error
    if size == 0:
        raise ArchiveError(f"{member} est vide dans l'archive")
    return size, digest.hexdigest()


def _copy(source: IO[bytes], out: IO[bytes], digest: Any) -> int:
    size = 0
    while block := source.read(_CHUNK):
        out.write(block)
        digest.update(block)
        size += len(block)
    return size


@dataclass
class _SevenZip:
    """A 7-Zip archive read with py7zr if installed, else the ``7z`` program."""

    archive: Path
    tool: str | None

    def list(self) -> list[str]:
        if self.tool is None:
            import py7zr

            with py7zr.SevenZipFile(self.archive) as archive:
                return [i.filename for i in archive.list() if not i.is_directory]
        listing = subprocess.run([self.tool, "l", "-slt", "-ba", str(self.archive)],
                                 capture_output=True, text=True, check=True).stdout
        # `7z l -slt` prints one "Key = value" block per file, blocks separated by a
        # blank line; folders carry a "D" in their attributes.
        names = []
        for block in listing.split("\n\n"):
            fields = dict(line.split(" = ", 1) for line in block.splitlines() if " = " in line)
            if "Path" in fields and "D" not in fields.get("Attributes", "").split(" ")[0]:
                names.append(fields["Path"].replace("\\", "/"))
        return names

    def extract(self, member: str, target: Path) -> None:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".7z-") as scratch:
            if self.tool is None:
                import py7zr

                with py7zr.SevenZipFile(self.archive) as archive:
                    archive.extract(path=scratch, targets=[member])
            else:
                subprocess.run([self.tool, "x", str(self.archive), f"-o{scratch}", member,
                                "-y"], capture_output=True, check=True)
            os.replace(Path(scratch) / member, target)


def _seven_zip(archive: Path, label: str) -> _SevenZip:
    try:
        importlib.import_module("py7zr")
        return _SevenZip(archive, None)
    except ModuleNotFoundError:
        pass
    for tool in ("7z", "7zz", "7za"):
        found = shutil.which(tool)
        if found:
            return _SevenZip(archive, found)
    raise ArchiveReaderMissingError(f"{label} contient une archive 7-Zip : installez le paquet "
                                    "py7zr ou le programme 7z (p7zip) pour la lire")
