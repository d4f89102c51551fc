"""Download an official file of the catalogue, verify it, and import it.

:func:`fetch` is what ``cohesion fetch NAME`` does: look the name up in the
:mod:`~cohesion.importers.catalogue`, download the file (only when asked: nothing here
runs on its own), check that what arrived is the file and not an error page or half of
it, take the data file out of its archive (read by :mod:`~cohesion.importers.archives`),
and import it with :func:`~cohesion.importers.base.run_import`, recording the official
address as provenance.

Local layout: everything about entry ``NAME`` lives in ``DEST/NAME/``: the downloaded
file, the data file(s) taken out of the archive, and ``download.json`` recording the
address, size and SHA-256 of each. A later fetch that finds these files intact does not
download again; :func:`run_import` then sees the same checksum and does nothing.

Mirrors: with ``base_url`` (the command line's ``--mirror`` or ``COHESION_MIRROR``), the
address ``https://HOST/PATH`` is requested as ``BASE_URL/HOST/PATH``, the layout that
``wget --force-directories`` produces, so a mirror is a plain folder served by any web
server (or a ``file://`` folder on a shared drive).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import socket
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlsplit
from urllib.request import Request, urlopen

from cohesion.errors import CohesionError, ErrorKind
from cohesion.importers.archives import ZIP_MAGIC, ArchiveError, archive_members, extract_member
from cohesion.importers.base import Importer, ImportReport, Provenance, run_import
from cohesion.importers.catalogue import Catalogue, CatalogueEntry, load_catalogue
from cohesion.store.warehouse import Warehouse, file_checksum

ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total)``; the total is None when unknown."""

DEFAULT_TIMEOUT = 60.0
MANIFEST = "download.json"
USER_AGENT = "cohesion-fetch/0.1 (observatoire de la cohesion des territoires)"
_CHUNK = 1 << 18

_MAGIC: dict[str, tuple[bytes, ...]] = {
    "zip": ZIP_MAGIC,
    "xlsx": (b"PK\x03\x04",),
    "xls": (b"\xd0\xcf\x11\xe0",),
    "gpkg": (b"SQLite format 3\x00",),
    "shp": (b"\x00\x00\x27\x0a",),
    "parquet": (b"PAR1",),
}


class FetchError(CohesionError):
    """A download that failed or was refused; nothing was imported.

    Each raise says what kind of failure it is, for the command line's exit code and the
    web's HTTP status: ``UNAVAILABLE`` when the server did not answer or failed (HTTP
    5xx, timeout, refused connection, cut transfer), ``NOT_FOUND`` when the file is not
    at its address (HTTP 404, missing on the mirror), ``BAD_FILE`` when what arrived is
    not the expected file (web page, checksum or size mismatch, corrupt archive),
    ``CONFLICT`` when this installation cannot read it (importer or 7-Zip reader
    missing). An unknown catalogue name is an
    :class:`~cohesion.importers.catalogue.UnknownDatasetError` (``NOT_FOUND``).

    Attributes
    ----------
    name : str
        Catalogue name of the dataset.
    url : str
        Address requested (the mirror's when a mirror was used).
    kind : ErrorKind
        What kind of failure this is.
    """

    def __init__(self, name: str, url: str, message: str, *, kind: ErrorKind) -> None:
        self.name = name
        self.url = url
        self.kind = kind
        super().__init__(f"{name} : {message} [{url}]")


@dataclass
class Download:
    """Files of one catalogue entry on disk, verified.

    Attributes
    ----------
    entry : CatalogueEntry
        What was fetched.
    url : str
        Address requested (official or mirror).
    path : Path
        The downloaded file (the archive, or the data file itself).
    files : list of Path
        The data file first, then its companions (``.dbf``, ``.shx``… of a shapefile).
    size : int
        Size of the downloaded file in bytes.
    sha256 : str
        SHA-256 of the downloaded file.
    downloaded : bool
        False when valid files were already there and nothing was requested.
    """

    entry: CatalogueEntry
    url: str
    path: Path
    files: list[Path]
    size: int
    sha256: str
    downloaded: bool

    @property
    def data_file(self) -> Path:
        """The file the importer reads."""
        return self.files[0]


@dataclass
class FetchReport:
    """What :func:`fetch` did.

    Attributes
    ----------
    name : str
        Catalogue name.
    url : str
        Official address, recorded as the dataset's provenance.
    download : Download
        The files on disk and whether they were downloaded this time.
    imported : ImportReport
        The import (``already_imported`` when the same file was imported before).
    notes : list of str
        Warnings for the user (French), e.g. an address the catalogue could not check.
    """

    name: str
    url: str
    download: Download
    imported: ImportReport
    notes: list[str] = field(default_factory=list)

    @property
    def downloaded(self) -> bool:
        """Whether the file was downloaded this time."""
        return self.download.downloaded


# -- addresses ------------------------------------------------------------------------


def mirror_path(url: str) -> PurePosixPath:
    """Relative path of an official address on a mirror: ``HOST/PATH``.

    The host is kept so that files of different producers never collide; the query
    string is dropped, a static mirror cannot serve it.

    Examples
    --------
    >>> str(mirror_path("https://www.insee.fr/fr/statistiques/fichier/1/a.zip"))
    'www.insee.fr/fr/statistiques/fichier/1/a.zip'
    """
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"not an absolute address: {url!r}")
    return PurePosixPath(parts.hostname.lower()) / unquote(parts.path).lstrip("/")


def mirror_url(url: str, base_url: str) -> str:
    """Address of ``url`` on the mirror ``base_url`` (``BASE_URL/HOST/PATH``)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"not an absolute address: {url!r}")
    # The path keeps its percent-encoding, as the catalogue spells it.
    return f"{base_url.rstrip('/')}/{parts.hostname.lower()}{parts.path}"


def check_base_url(base_url: str | None) -> str | None:
    """The mirror ``base_url`` once checked (None: the official addresses).

    The command line passes ``--mirror`` or the settings' ``COHESION_MIRROR``.
    """
    if base_url is None:
        return None
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https", "file") or (parts.scheme != "file"
                                                        and not parts.hostname):
        raise CohesionError(f"miroir {base_url!r} : ce n'est pas une adresse de miroir "
                            "(attendu http://hôte[/préfixe], https://… ou file:///dossier)")
    return base_url


# -- importers ------------------------------------------------------------------------


def default_importers() -> dict[str, Importer]:
    """Every importer of this installation, by ``name``."""
    from cohesion.importers import importers

    return importers()


# -- download -------------------------------------------------------------------------


def download(entry: CatalogueEntry | str, dest_dir: Path | str, *,
             base_url: str | None = None, progress: ProgressCallback | None = None,
             timeout: float = DEFAULT_TIMEOUT, refresh: bool = False,
             catalogue: Catalogue | None = None) -> Download:
    """Download and verify the files of one catalogue entry, without importing.

    Parameters
    ----------
    entry : CatalogueEntry or str
        The entry, or its name in ``catalogue``.
    dest_dir : Path or str
        Folder of downloads; the entry's files go to ``dest_dir/NAME/``.
    base_url : str, optional
        Mirror replacing the official host (see :func:`mirror_url`); None: the
        official address.
    progress : callable, optional
        ``progress(bytes_done, bytes_total)`` during the download.
    timeout : float
        Seconds to wait for the connection and for each read.
    refresh : bool
        Download even if valid files are already there (the producer replaced the file
        at the same address).
    catalogue : Catalogue, optional
        Where to look ``entry`` up (default: the shipped catalogue).

    Returns
    -------
    Download

    Raises
    ------
    FetchError
        HTTP error, connection refused, timeout, web page instead of data, truncated or
        empty download, size or checksum mismatch, corrupt archive, missing member.
        No partial or unverified file is left in ``dest_dir``.
    """
    if isinstance(entry, str):
        entry = (catalogue or load_catalogue())[entry]
    folder = Path(dest_dir) / entry.name
    mirror = check_base_url(base_url)
    url = mirror_url(entry.url, mirror) if mirror else entry.url
    if not refresh:
        cached = _cached(entry, folder, url)
        if cached is not None:
            return cached
    folder.mkdir(parents=True, exist_ok=True)
    with _temporary(folder, entry.file_name) as partial:
        size, sha256 = _transfer(entry, url, partial, progress, timeout,
                                 via_mirror=mirror is not None)
        with _extracted(entry, url, partial, folder) as members:
            # Everything verified: move into place. The manifest, written last, is what
            # vouches for these files: after a crash before it, the next fetch does not
            # trust them and checks or downloads again.
            final_files = []
            for temporary, name, _, _ in members:
                target = folder / name
                os.replace(temporary, target)
                final_files.append(target)
            target = folder / entry.file_name
            os.replace(partial, target)
            member_records = [{"file": name, "size": msize, "sha256": msha}
                              for _, name, msize, msha in members]
    files = final_files or [target]
    _write_manifest(folder, {
        "name": entry.name, "url": entry.url, "download_url": url, "file": entry.file_name,
        "size": size, "sha256": sha256, "members": member_records,
        "downloaded_at": datetime.now(UTC).isoformat(timespec="seconds")})
    return Download(entry, url, target, files, size, sha256, True)


def fetch(name: str, warehouse: Warehouse, dest_dir: Path | str, *,
          base_url: str | None = None, progress: ProgressCallback | None = None,
          importer_registry: Mapping[str, Importer] | None = None,
          catalogue: Catalogue | None = None, timeout: float = DEFAULT_TIMEOUT,
          refresh: bool = False, replace: bool = False) -> FetchReport:
    """Download (if needed), verify and import one official file of the catalogue.

    Parameters
    ----------
    name : str
        Catalogue name, e.g. ``filosofi-communes-2020``.
    warehouse : Warehouse
        Where to import.
    dest_dir : Path or str
        Folder of downloads (see :func:`download`).
    base_url : str, optional
        Mirror replacing the official host; None: the official address.
    progress : callable, optional
        ``progress(bytes_done, bytes_total)`` during the download.
    importer_registry : Mapping, optional
        Importer name → importer instance; defaults to :func:`default_importers`.
    catalogue : Catalogue, optional
        Default: the shipped catalogue.
    timeout : float
        Seconds to wait for the connection and for each read.
    refresh : bool
        Download again even if valid files are already there.
    replace : bool
        Passed to the import: replace values another dataset already holds.

    Returns
    -------
    FetchReport
        Fetching twice downloads and imports once: the second report has
        ``downloaded`` false and ``imported.already_imported`` true.

    Raises
    ------
    UnknownDatasetError
        ``name`` is not in the catalogue (close names are suggested).
    FetchError
        The importer is unavailable or the download failed verification; the
        warehouse is unchanged.
    InputFileError
        The importer refused the file; the warehouse is unchanged.
    """
    catalogue = catalogue or load_catalogue()
    entry = catalogue[name]
    registry = default_importers() if importer_registry is None else importer_registry
    importer = registry.get(entry.importer)
    if importer is None:
        # Checked before downloading: no point fetching 1 GB that cannot be read.
        available = ", ".join(sorted(registry)) or "aucun"
        raise FetchError(entry.name, entry.url,
                         f"nécessite l'importeur {entry.importer!r}, qui n'est pas disponible "
                         f"(disponibles : {available})", kind=ErrorKind.CONFLICT)
    files = download(entry, dest_dir, base_url=base_url, progress=progress, timeout=timeout,
                     refresh=refresh)
    imported = run_import(warehouse, importer, files.data_file, name=entry.name,
                          options=entry.import_options(replace=replace), url=entry.url,
                          provenance=Provenance(entry.title, entry.producer, entry.licence,
                                                entry.page))
    notes = [] if entry.url_checked else [
        "adresse du catalogue non vérifiée : contrôler le fichier sur la page du producteur"]
    return FetchReport(entry.name, entry.url, files, imported, notes)


# -- cache ----------------------------------------------------------------------------


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_manifest(folder: Path, data: dict[str, Any]) -> None:
    with _temporary(folder, MANIFEST) as partial:
        partial.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, folder / MANIFEST)


def _intact(path: Path, size: int | None, sha256: str | None) -> bool:
    """Whether ``path`` exists with this size and checksum (size first: it is free)."""
    if sha256 is None or not path.is_file():
        return False
    if size is not None and path.stat().st_size != size:
        return False
    return file_checksum(path) == sha256


def _cached(entry: CatalogueEntry, folder: Path, url: str) -> Download | None:
    """The entry's files if already downloaded and intact, else None.

    Without a catalogue checksum, the one recorded at download time is the reference:
    it proves the file on disk is the one that was verified then.
    """
    manifest = _read_manifest(folder) or {}
    if manifest.get("url") not in (None, entry.url) or manifest.get("file") not in (
            None, entry.file_name):
        return None  # the catalogue now points elsewhere
    expected = entry.sha256 or manifest.get("sha256")
    if entry.sha256 and manifest.get("sha256") not in (None, entry.sha256):
        return None
    path = folder / entry.file_name
    size = entry.size or manifest.get("size")
    if not _intact(path, size, expected):
        return None
    if not entry.archive:
        return Download(entry, manifest.get("download_url", url), path, [path],
                        path.stat().st_size, str(expected), False)
    members = manifest.get("members") or []
    files = [folder / m["file"] for m in members if isinstance(m, dict) and "file" in m]
    if not files or not all(_intact(folder / m["file"], m.get("size"), m.get("sha256"))
                            for m in members):
        # The archive is good but its data files are missing or altered: take them out
        # again rather than downloading.
        with _extracted(entry, url, path, folder) as extracted:
            files = []
            for temporary, name, _, _ in extracted:
                os.replace(temporary, folder / name)
                files.append(folder / name)
            manifest.update(
                name=entry.name, url=entry.url, file=entry.file_name,
                size=path.stat().st_size, sha256=expected,
                members=[{"file": n, "size": s, "sha256": h} for _, n, s, h in extracted])
            manifest.setdefault("download_url", url)
        _write_manifest(folder, manifest)
    return Download(entry, manifest.get("download_url", url), path, files,
                    path.stat().st_size, str(expected), False)


@contextlib.contextmanager
def _temporary(folder: Path, name: str) -> Iterator[Path]:
    """A hidden temporary file next to its final place, removed unless renamed.

    Same folder, so that the final :func:`os.replace` is atomic.
    """
    handle, raw = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    os.close(handle)
    path = Path(raw)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


# -- transfer -------------------------------------------------------------------------


def looks_like_html(head: bytes) -> bool:
    """Whether the first bytes of a download are a web page (an error or login page)."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return (start.startswith((b"<!doctype html", b"<html"))
            or (start.startswith((b"<?xml", b"<!--")) and b"<html" in start[:2048]))


def _open(entry: CatalogueEntry, url: str, timeout: float, via_mirror: bool) -> Any:
    """Open ``url``, turning every network failure into a :class:`FetchError`."""
    request = Request(url, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
    try:
        return urlopen(request, timeout=timeout)
    except HTTPError as error:
        error.close()
        if via_mirror:
            hint = (f"le miroir ne le sert pas ; il devrait contenir le fichier officiel en "
                    f"{mirror_path(entry.url)}")
        elif error.code in (404, 410):
            hint = "le producteur a peut-être déplacé le fichier" + (
                f" ; voir {entry.page} et mettre à jour le catalogue" if entry.page else "")
        elif error.code >= 500:
            hint = "le serveur du producteur est en erreur ; réessayez plus tard"
        else:
            hint = "le serveur a refusé la requête"
        kind = ErrorKind.NOT_FOUND if error.code in (404, 410) else ErrorKind.UNAVAILABLE
        raise FetchError(entry.name, url, f"HTTP {error.code} {error.reason} : {hint}",
                         kind=kind) from error
    except URLError as error:
        raise _network_error(entry, url, error.reason, timeout) from error
    except (TimeoutError, OSError, http.client.HTTPException) as error:
        raise _network_error(entry, url, error, timeout) from error


def _network_error(entry: CatalogueEntry, url: str, reason: Any, timeout: float,
                   received: int | None = None) -> FetchError:
    after = f" après {received} octets" if received else ""
    kind = ErrorKind.UNAVAILABLE
    if isinstance(reason, TimeoutError):
        message = (f"pas de réponse en {timeout:g} s{after} (délai dépassé) ; réessayez ou "
                   "allongez le délai")
    elif isinstance(reason, ConnectionRefusedError):
        host = urlsplit(url).netloc
        message = f"connexion refusée par {host} : aucun serveur n'y écoute"
    elif isinstance(reason, FileNotFoundError):
        message = f"introuvable sur le miroir (attendu en {mirror_path(entry.url)})"
        kind = ErrorKind.NOT_FOUND
    elif isinstance(reason, socket.gaierror):
        message = f"hôte inconnu {urlsplit(url).hostname!r} (hors ligne, ou mauvais miroir ?)"
    else:
        message = f"échec du téléchargement{after} : {reason}"
    return FetchError(entry.name, url, message, kind=kind)


def _transfer(entry: CatalogueEntry, url: str, partial: Path,
              progress: ProgressCallback | None, timeout: float,
              via_mirror: bool) -> tuple[int, str]:
    """Stream ``url`` into ``partial`` and verify it; return its size and SHA-256."""
    response = _open(entry, url, timeout, via_mirror)
    with response:
        # file:// mirrors have no status; an HTTP 2xx other than 200 (204 No Content,
        # 206 Partial Content) is not the whole file either.
        status = getattr(response, "status", None)
        if status is not None and status != 200:
            raise FetchError(entry.name, url, f"statut HTTP inattendu {status} "
                             "(attendu 200 avec le fichier)", kind=ErrorKind.UNAVAILABLE)
        content_type = response.headers.get_content_type() if response.headers else ""
        if content_type in ("text/html", "application/xhtml+xml"):
            raise FetchError(entry.name, url, f"le serveur a envoyé une page web ({content_type}) "
                             "au lieu du fichier : l'adresse a probablement changé"
                             + (f" ; voir {entry.page}" if entry.page else ""),
                             kind=ErrorKind.BAD_FILE)
        announced = response.headers.get("Content-Length") if response.headers else None
        total = int(announced) if announced and announced.strip().isdigit() else None
        digest = hashlib.sha256()
        done = 0
        if progress is not None:
            progress(0, total)
        try:
            with partial.open("wb") as out:
                while chunk := response.read(_CHUNK):
                    if done == 0 and looks_like_html(chunk[:4096]):
                        raise FetchError(
                            entry.name, url, "le serveur a envoyé une page web au lieu du "
                            "fichier (page d'erreur ou de connexion ?)"
                            + (f" ; voir {entry.page}" if entry.page else ""),
                            kind=ErrorKind.BAD_FILE)
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        except http.client.IncompleteRead as error:
            done += len(error.partial)
            raise FetchError(entry.name, url, _truncated(done, total),
                             kind=ErrorKind.UNAVAILABLE) from error
        except (TimeoutError, OSError, http.client.HTTPException) as error:
            raise _network_error(entry, url, error, timeout, received=done) from error
    if total is not None and done != total:
        raise FetchError(entry.name, url, _truncated(done, total), kind=ErrorKind.UNAVAILABLE)
    if done == 0:
        raise FetchError(entry.name, url, "le serveur a envoyé un fichier vide",
                         kind=ErrorKind.BAD_FILE)
    if entry.size is not None and done != entry.size:
        raise FetchError(entry.name, url, f"taille inattendue : le catalogue annonce "
                         f"{entry.size} octets, reçu {done} : le producteur a peut-être "
                         "publié une nouvelle version ; vérifiez-la et mettez à jour le "
                         "catalogue", kind=ErrorKind.BAD_FILE)
    sha256 = digest.hexdigest()
    if entry.sha256 is not None and sha256 != entry.sha256:
        raise FetchError(entry.name, url, f"empreinte différente : SHA-256 {sha256}, le "
                         f"catalogue attend {entry.sha256} : le fichier a été modifié ou "
                         "remplacé ; il n'a pas été importé", kind=ErrorKind.BAD_FILE)
    if not entry.archive:
        _check_format(entry, url, partial, entry.format, entry.file_name)
    return done, sha256


def _truncated(done: int, total: int | None) -> str:
    return (f"téléchargement tronqué : {done} octets reçus sur les {total} annoncés "
            "(Content-Length) : la connexion a été coupée ; relancez le téléchargement")


def _check_format(entry: CatalogueEntry, url: str, path: Path, fmt: str, label: str) -> None:
    """Refuse a file whose first bytes do not fit its declared format."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    problem = None
    magic = _MAGIC.get(fmt)
    if looks_like_html(head):
        problem = f"{label} est une page web, pas des données {fmt}"
    elif magic is not None and not head.startswith(magic):
        problem = f"{label} n'est pas un fichier {fmt} (ses premiers octets sont {head[:8]!r})"
    elif fmt in ("geojson", "json") and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(
            (b"{", b"[")):
        problem = f"{label} n'est pas du JSON"
    elif fmt == "csv" and b"\x00" in head:
        problem = f"{label} est binaire, ce n'est pas un fichier CSV"
    if problem is not None:
        raise FetchError(entry.name, url, problem, kind=ErrorKind.BAD_FILE)


# -- archives -------------------------------------------------------------------------


_Extracted = list[tuple[Path, str, int, str]]
"""Temporary path, final file name, size and SHA-256 of each extracted data file."""


@contextlib.contextmanager
def _extracted(entry: CatalogueEntry, url: str, archive: Path,
               folder: Path) -> Iterator[_Extracted]:
    """Take the entry's data file(s) out of ``archive`` into temporary files.

    Each level of ``entry.member`` selects exactly one member; the last level's
    member comes with its shapefile companions. Temporary files that the caller did
    not move into place are removed on exit, whatever happens.
    """
    if not entry.archive:
        yield []
        return
    created: list[Path] = []
    try:
        current, label = archive, entry.file_name
        result: _Extracted = []
        for level, pattern in enumerate(entry.member):
            last = level == len(entry.member) - 1
            with _archive_errors(entry, url):
                names = archive_members(current, label)
            matches = [n for n in names if entry.matches_member(level, n)]
            if not matches:
                shown = ", ".join(names[:15]) + (", …" if len(names) > 15 else "")
                raise FetchError(entry.name, url, f"aucun fichier ne correspond à {pattern!r} dans "
                                 f"{label} (il contient : {shown or 'rien'})",
                                 kind=ErrorKind.BAD_FILE)
            if len(matches) > 1:
                raise FetchError(entry.name, url, f"plusieurs fichiers correspondent à "
                                 f"{pattern!r} dans {label} : {', '.join(matches)} ; le motif du "
                                 "catalogue doit n'en désigner qu'un", kind=ErrorKind.BAD_FILE)
            wanted = [matches[0]]
            if last and matches[0].lower().endswith(".shp"):
                stem = matches[0][:-4].lower()
                wanted += [n for n in names if n != matches[0]
                           and n.lower().rsplit(".", 1)[0] == stem]
            extracted = []
            for member in wanted:
                target_name = PurePosixPath(member).name
                handle, raw = tempfile.mkstemp(dir=folder, prefix=f".{target_name}.",
                                               suffix=".part")
                os.close(handle)
                temporary = Path(raw)
                created.append(temporary)
                with _archive_errors(entry, url):
                    size, sha256 = extract_member(current, member, temporary)
                extracted.append((temporary, target_name, size, sha256))
            if last:
                data = extracted[0]
                _check_format(entry, url, data[0], entry.format, data[1])
                result = extracted
            else:
                current, label = extracted[0][0], extracted[0][1]
        yield result
    finally:
        for path in created:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def _archive_errors(entry: CatalogueEntry, url: str) -> Iterator[None]:
    """Report an :class:`ArchiveError` as a :class:`FetchError` of the same kind."""
    try:
        yield
    except ArchiveError as error:
        raise FetchError(entry.name, url, str(error), kind=error.kind) from error
