"""The catalogue of official files Cohésion can fetch and import.

Each entry names one official file (a stable name such as ``filosofi-communes-2020``),
says who produces it and under which licence, where it is published, how to find the
data file inside an archive, and which importer reads it with which options. The
entries live in ``catalogue.yaml`` next to this module; :func:`load_catalogue` reads
and validates them, so a typo in the file is reported with the entry it is in rather
than surfacing later as a failed download.

Importers are referenced by their ``name`` string only: the catalogue never imports
importer modules, so it loads even when an optional importer is unavailable.

Examples
--------
>>> catalogue = load_catalogue()
>>> catalogue["qpv-2024"].producer
'ANCT'
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from cohesion.errors import CohesionError, NotFoundError
from cohesion.importers.base import ImportOptions

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")

ARCHIVE_FORMATS = ("zip",)
DATA_FORMATS = ("csv", "xlsx", "xls", "geojson", "json", "gpkg", "shp", "dbf", "parquet")

_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_REQUIRED = ("name", "title", "producer", "licence", "url", "format", "importer")
_OPTIONAL = ("page", "archive", "member", "options", "sha256", "size", "url_checked", "notes")
_KEYS = _REQUIRED + _OPTIONAL
# ImportOptions fields that an entry may set; every other option goes to ``extra``.
_OPTION_FIELDS = ("vintage", "period")


class CatalogueError(CohesionError):
    """The catalogue file is malformed; the message names the entry and the key."""


class UnknownDatasetError(CatalogueError, NotFoundError):
    """A dataset name that the catalogue does not hold.

    Attributes
    ----------
    name : str
        The name asked for.
    suggestions : list of str
        Close catalogue names, best first (may be empty).
    """

    def __init__(self, name: str, suggestions: list[str], available: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        if suggestions:
            hint = "vouliez-vous dire " + " ou ".join(repr(s) for s in suggestions) + " ?"
        else:
            shown = ", ".join(available[:12]) + (", …" if len(available) > 12 else "")
            hint = f"jeux connus : {shown}"
        super().__init__(f"jeu de données {name!r} inconnu du catalogue ; {hint}")


@dataclass(frozen=True)
class CatalogueEntry:
    """One official file of the catalogue.

    Attributes
    ----------
    name : str
        Stable identifier (lower case words joined by ``-``), recorded with the dataset.
    title : str
        French title shown to users.
    producer : str
        Producer to credit (INSEE, ANCT, IGN…), not the hosting site.
    licence : str
        Licence of the file.
    url : str
        Official download address (``https`` or ``http``).
    format : str
        Format of the data file the importer reads (one of :data:`DATA_FORMATS`).
    importer : str
        ``name`` of the importer that reads the file.
    page : str or None
        Landing page where the producer documents the file and lists new editions.
    archive : str or None
        ``"zip"`` when the address serves an archive holding the data file.
    member : tuple of str
        Name patterns (shell-style, case-insensitive) selecting the data file in the
        archive, one per level of nesting (a zip holding a 7-Zip archive needs two).
    options : Mapping
        Importer options: ``vintage`` and ``period`` fill :class:`ImportOptions`,
        any other key goes to ``ImportOptions.extra``.
    sha256 : str or None
        Expected SHA-256 of the downloaded file, when known.
    size : int or None
        Expected size in bytes of the downloaded file, when known.
    url_checked : bool
        False when the address could not be cross-checked when the entry was written.
    notes : str or None
        Things users should know about the file (French).
    """

    name: str
    title: str
    producer: str
    licence: str
    url: str
    format: str
    importer: str
    page: str | None = None
    archive: str | None = None
    member: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    sha256: str | None = None
    size: int | None = None
    url_checked: bool = True
    notes: str | None = None

    @property
    def file_name(self) -> str:
        """Local name of the downloaded file.

        The last segment of the address, or ``NAME.EXT`` when the address does not
        end with a file name (data.gouv.fr stable links ``/datasets/r/<id>``), since
        importers recognise formats by their suffix.
        """
        last = PurePosixPath(unquote(urlsplit(self.url).path)).name
        if last and PurePosixPath(last).suffix:
            return last
        return f"{self.name}.{self.archive or self.format}"

    def import_options(self, **overrides: Any) -> ImportOptions:
        """Build the :class:`ImportOptions` this entry asks for.

        Parameters
        ----------
        **overrides
            ``vintage``, ``period``, ``replace`` or extra options that take precedence
            over the catalogue's.
        """
        merged = {**self.options, **overrides}
        fields = {key: merged.pop(key) for key in (*_OPTION_FIELDS, "replace") if key in merged}
        if fields.get("period") is not None:
            fields["period"] = str(fields["period"])
        return ImportOptions(**fields, extra=merged)

    def matches_member(self, level: int, member_path: str) -> bool:
        """Whether a path inside an archive matches the pattern of ``level``.

        A pattern without ``/`` is matched against the member's base name, so that
        a file is found whatever folder the producer put it in.
        """
        pattern = self.member[level].lower()
        candidate = member_path.lower()
        if "/" not in pattern:
            candidate = PurePosixPath(candidate).name
        return fnmatch.fnmatchcase(candidate, pattern)


class Catalogue(Mapping[str, CatalogueEntry]):
    """The validated catalogue: a read-only mapping name → :class:`CatalogueEntry`.

    Parameters
    ----------
    entries : iterable of CatalogueEntry
        Entries, in the order to list them; names must be unique.
    source : str
        Where the entries come from, for error messages.
    """

    def __init__(self, entries: list[CatalogueEntry] | tuple[CatalogueEntry, ...],
                 source: str = "catalogue") -> None:
        self.source = source
        self._entries: dict[str, CatalogueEntry] = {}
        for entry in entries:
            if entry.name in self._entries:
                raise CatalogueError(f"{source} : l'entrée {entry.name!r} est définie deux fois")
            self._entries[entry.name] = entry

    def __getitem__(self, name: str) -> CatalogueEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise self.unknown(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Catalogue({len(self)} entries from {self.source})"

    def entry(self, name: str) -> CatalogueEntry:
        """The entry called ``name``; raise :class:`UnknownDatasetError` with suggestions."""
        return self[name]

    def unknown(self, name: str) -> UnknownDatasetError:
        """Build the error for an unknown ``name``, suggesting close names."""
        names = list(self._entries)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        if not close:
            # A vintage-less name ("qpv") should still lead to its vintages.
            close = [known for known in names if known.startswith(name + "-")][:3]
        return UnknownDatasetError(name, close, names)

    def with_entries(self, *entries: CatalogueEntry) -> Catalogue:
        """A copy where ``entries`` replace (by name) or extend the current ones."""
        merged = dict(self._entries)
        for entry in entries:
            merged[entry.name] = entry
        return Catalogue(list(merged.values()), self.source)


def _check_url(url: Any, where: str, key: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise CatalogueError(f"{where} : {key} doit être une adresse non vide")
    parts = urlsplit(url)
    if (parts.scheme not in ("https", "http") or not parts.hostname or not parts.path
            or parts.path == "/" or parts.fragment or any(c.isspace() for c in url)):
        raise CatalogueError(
            f"{where} : {key} {url!r} n'est pas une adresse de téléchargement valide "
            "(attendu http(s)://hôte/chemin/du/fichier, sans espace ni #fragment)")
    return url


def _entry(raw: Any, index: int, source: str) -> CatalogueEntry:
    """Validate one raw YAML entry; errors name the entry by name or position."""
    label = f"entrée n° {index + 1}"
    if isinstance(raw, Mapping) and isinstance(raw.get("name"), str):
        label = f"entrée {raw['name']!r} (n° {index + 1})"
    where = f"{source}, {label}"
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"{where} : attendu un dictionnaire de clés, "
                             f"trouvé {type(raw).__name__}")
    for key in raw:
        if key not in _KEYS:
            close = difflib.get_close_matches(str(key), _KEYS, n=1)
            hint = (f"vouliez-vous dire {close[0]!r} ?" if close
                    else "attendu l'une de " + ", ".join(_KEYS))
            raise CatalogueError(f"{where} : clé inconnue {key!r} ; {hint}")
    for key in _REQUIRED:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise CatalogueError(f"{where} : {key!r} est obligatoire et doit être un texte non "
                                 "vide")
    name = raw["name"]
    if not _NAME.match(name):
        raise CatalogueError(f"{where} : name {name!r} doit être fait de mots en minuscules reliés "
                             "par '-'")
    url = _check_url(raw["url"], where, "url")
    page = raw.get("page")
    if page is not None:
        _check_url(page, where, "page")
    fmt = raw["format"]
    if fmt not in DATA_FORMATS:
        raise CatalogueError(f"{where} : format {fmt!r} n'est pas l'un de "
                             f"{', '.join(DATA_FORMATS)}")
    archive = raw.get("archive")
    if archive is not None and archive not in ARCHIVE_FORMATS:
        raise CatalogueError(
            f"{where} : archive {archive!r} n'est pas l'un de {', '.join(ARCHIVE_FORMATS)}")
    member_raw = raw.get("member")
    if isinstance(member_raw, str):
        member: tuple[str, ...] = (member_raw,)
    elif isinstance(member_raw, list) and all(isinstance(m, str) and m for m in member_raw):
        member = tuple(member_raw)
    elif member_raw is None:
        member = ()
    else:
        raise CatalogueError(f"{where} : member doit être un motif de nom de fichier ou une liste "
                             "de motifs")
    if archive and not member:
        raise CatalogueError(f"{where} : une archive demande 'member', le motif du nom du "
                             "fichier de données qu'elle contient")
    if member and not archive:
        raise CatalogueError(f"{where} : 'member' n'a de sens qu'avec 'archive: zip'")
    options = raw.get("options") or {}
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise CatalogueError(f"{where} : options doit associer des noms d'options à des valeurs")
    if "replace" in options:
        raise CatalogueError(f"{where} : options ne peut pas fixer 'replace', qui revient à "
                             "l'utilisateur")
    if "vintage" in options and not isinstance(options["vintage"], int):
        raise CatalogueError(f"{where} : options.vintage doit être une année (un entier)")
    sha256 = raw.get("sha256")
    if sha256 is not None:
        if not isinstance(sha256, str) or not _SHA256.match(sha256.lower()):
            raise CatalogueError(f"{where} : sha256 doit compter 64 chiffres hexadécimaux ou "
                                 "valoir null")
        sha256 = sha256.lower()
    size = raw.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size <= 0):
        raise CatalogueError(f"{where} : size doit être un nombre d'octets positif ou null")
    url_checked = raw.get("url_checked", True)
    if not isinstance(url_checked, bool):
        raise CatalogueError(f"{where} : url_checked doit valoir true ou false")
    notes = raw.get("notes")
    if notes is not None and not isinstance(notes, str):
        raise CatalogueError(f"{where} : notes doit être un texte")
    return CatalogueEntry(
        name=name, title=raw["title"].strip(), producer=raw["producer"].strip(),
        licence=raw["licence"].strip(), url=url, format=fmt, importer=raw["importer"].strip(),
        page=page, archive=archive, member=member, options=MappingProxyType(dict(options)),
        sha256=sha256, size=size, url_checked=url_checked,
        notes=notes.strip() if notes else None)


def parse_catalogue(data: Any, source: str = "catalogue") -> Catalogue:
    """Validate a catalogue already parsed from YAML (or built in code).

    Parameters
    ----------
    data : Any
        A mapping with ``version: 1`` and a ``datasets`` list of entry mappings.
    source : str
        Name of where ``data`` comes from, used in error messages.

    Raises
    ------
    CatalogueError
        Naming the entry (by name, or position when it has none) and what is wrong.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("datasets"), list):
        raise CatalogueError(f"{source} : attendu une liste 'datasets' au premier niveau")
    extra = set(data) - {"version", "datasets"}
    if extra:
        raise CatalogueError(f"{source} : clé(s) de premier niveau inconnue(s) "
                             f"{', '.join(sorted(extra))}")
    if data.get("version", 1) != 1:
        raise CatalogueError(f"{source} : version de catalogue non prise en charge "
                             f"{data['version']!r} "
                             "(cette version de Cohésion lit la version 1)")
    entries = [_entry(raw, index, source) for index, raw in enumerate(data["datasets"])]
    return Catalogue(entries, source)


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Read and validate a catalogue file (default: the one shipped with Cohésion).

    Parameters
    ----------
    path : Path or str, optional
        A YAML catalogue; defaults to :data:`CATALOGUE_FILE`.

    Raises
    ------
    CatalogueError
        If the file is missing, is not valid YAML or has an invalid entry.
    """
    if path is None:
        return _default_catalogue()
    return _read(Path(path))


@lru_cache(maxsize=1)
def _default_catalogue() -> Catalogue:
    # The shipped file never changes while the process runs: validate it once.
    return _read(CATALOGUE_FILE)


def _read(path: Path) -> Catalogue:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogueError(f"{path} : impossible de lire le catalogue "
                             f"({error.strerror})") from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CatalogueError(f"{path} : YAML non valide ({error})") from error
    return parse_catalogue(data, str(path))
