"""The declarative description of a source: a versioned YAML connector, checked on load.

A connector says where a source is, in which format, under which licence, which field
of an entry is its key, and how its fields become the fields of a
:class:`~cohesion.innovations.records.Record`. Everything is checked when the file is
loaded: an unknown or duplicated key, a missing one, a wrong type, an unknown format
or transform is an :class:`~cohesion.errors.InputFileError` naming the file, the line
and the key, before anything is fetched.

The keys (``docs/innovations-harvest.md`` teaches them with the three first sources):

``name``, ``version``, ``title``, ``producer``, ``licence``
    Slug of the source (the prefix of its records' ids: never change it), version of
    the connector (an integer, raised when the mapping changes), French title,
    producer, licence of the data.
``page``
    The producer's page about the data (optional).
``format``
    One of :data:`FORMATS`.
``location`` or ``locations``
    Where the source is, relative to the data root (a folder or a base address), or an
    absolute address.
``encoding``, ``sheet``, ``header_row``
    CSV encoding (detected when absent), XLSX sheet (or its name's start) and header row.
``records``
    JSON: dotted path of the array of entries in the document (default: the document).
``types``
    JSON-LD: the schema.org types kept (``Project``, ``Organization``…).
``html``
    ``items`` (CSS selector of an entry on a list page), ``next`` (selector of the link
    to the next page, optional), ``max_pages``.
``key``
    How a record keeps its id: ``field`` (a source field holding the source's own key),
    ``url`` (``url`` or ``source_url``: the hash of that canonical address), ``title``
    (``true``: the hash of the title, the last resort). Several may be given: they are
    tried in that order (:func:`~cohesion.innovations.records.stable_id`).
``fields``
    Record field → where its value comes from (:class:`FieldSpec`).
``taxonomy``
    ``vocabulary`` (the source's entry in ``taxonomy.yaml``; by default the entry named
    after the source, if any: a source without one keeps all its tags unmapped) and
    ``tree`` (the location of the source's own category tree, optional).
``point``
    ``lieu`` (the point is the project's place, default) or ``centroide`` (the centre
    of a territory: no QPV is derived from it).
``class``
    ``module:Class``, a :class:`~cohesion.innovations.connectors.base.Connector`
    subclass for a source that needs code to read.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cohesion.errors import InputFileError
from cohesion.innovations.connectors.transforms import TRANSFORMS, Transform
from cohesion.yaml_files import parse_yaml

#: Formats a connector may read.
FORMATS = ("csv", "xlsx", "json", "jsonld", "rss", "html")
#: Record fields holding one line of plain text.
TEXT_FIELDS = ("title", "summary", "porteur", "address", "commune_name", "programme")
#: Record fields holding text of several paragraphs.
PARAGRAPH_FIELDS = ("description",)
#: Record fields holding a web address.
URL_FIELDS = ("url", "source_url")
#: Record fields holding a code (digits or letters, spaces removed).
CODE_FIELDS = ("siret", "postcode", "commune", "departement")
#: Record fields holding a number.
NUMBER_FIELDS = ("lat", "lon")
#: Record fields holding a list of texts.
LIST_FIELDS = ("territories", "tags")
#: Record fields holding a date (ISO 8601).
DATE_FIELDS = ("updated",)
#: Every record field a connector may fill; the others are set by the harvest (id,
#: source, licence, siren from siret), the taxonomy (domaines, publics, actions), the
#: normalisation (qpv, commune from the point) or the store (dates seen, status).
MAPPED_FIELDS = (TEXT_FIELDS + PARAGRAPH_FIELDS + URL_FIELDS + CODE_FIELDS + NUMBER_FIELDS
                 + LIST_FIELDS + DATE_FIELDS)
#: Kinds of point: the project's place, or the centre of a territory.
POINT_KINDS = ("lieu", "centroide")

_TOP_KEYS = {"name", "version", "title", "producer", "licence", "page", "format", "location",
             "locations", "encoding", "sheet", "header_row", "records", "types", "html",
             "key", "fields", "taxonomy", "point", "class"}
_REQUIRED = ("name", "version", "title", "producer", "licence", "format", "key", "fields")
_FIELD_KEYS = {"from", "value", "select", "attribute", "all", "transforms", "optional"}
_KEY_KEYS = {"field", "url", "title"}
_HTML_KEYS = {"items", "next", "max_pages"}
_TAXONOMY_KEYS = {"vocabulary", "tree"}
#: Pages of an HTML source read at most, unless its connector says otherwise.
DEFAULT_MAX_PAGES = 50


@dataclass(frozen=True)
class FieldSpec:
    """Where one record field comes from.

    Attributes
    ----------
    name : str
        The record field (one of :data:`MAPPED_FIELDS`).
    sources : tuple of str
        Source fields read (``from``): column names, JSON dotted paths (``geo.latitude``),
        feed entry keys. Several are read in order, as a list.
    value : str or None
        A constant (``value``), for every record.
    select : str or None
        HTML: CSS selector inside an entry's element.
    attribute : str or None
        HTML: the attribute read instead of the element's text (``href``).
    all : bool
        HTML: every element the selector matches (a list), not only the first.
    transforms : tuple of Transform
        Applied in order (:mod:`~cohesion.innovations.connectors.transforms`).
    optional : bool
        The field may be absent from the whole source; otherwise a field found in no
        entry at all is a layout change, and the run fails.
    """

    name: str
    sources: tuple[str, ...] = ()
    value: str | None = None
    select: str | None = None
    attribute: str | None = None
    all: bool = False
    transforms: tuple[Transform, ...] = ()
    optional: bool = False


@dataclass(frozen=True)
class KeySpec:
    """How a record's id is made (see :func:`~cohesion.innovations.records.stable_id`).

    Attributes
    ----------
    field : str or None
        Source field holding the source's own key.
    url : str or None
        Record field (``url`` or ``source_url``) whose canonical address is hashed.
    title : bool
        Hash the title as a last resort.
    """

    field: str | None = None
    url: str | None = None
    title: bool = False


@dataclass(frozen=True)
class HtmlSpec:
    """The list pages of an HTML source."""

    items: str
    next: str | None = None
    max_pages: int = DEFAULT_MAX_PAGES


@dataclass(frozen=True)
class ConnectorSpec:
    """A connector as declared in its YAML file (see the module's documentation)."""

    name: str
    version: int
    title: str
    producer: str
    licence: str
    format: str
    locations: tuple[str, ...]
    key: KeySpec
    fields: dict[str, FieldSpec]
    page: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    header_row: int = 1
    records: str | None = None
    types: tuple[str, ...] = ()
    html: HtmlSpec | None = None
    vocabulary: str | None = None
    tree: str | None = None
    point: str = "lieu"
    connector_class: str | None = None
    path: str = ""

    def sources_read(self) -> list[str]:
        """Source fields the mapping reads (``from`` and the key field), in order."""
        names = [name for spec in self.fields.values() for name in spec.sources]
        if self.key.field:
            names.append(self.key.field)
        return list(dict.fromkeys(names))


# -- YAML -----------------------------------------------------------------------------

class _Loader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice in one mapping."""


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"clé {key!r} donnée deux fois",
                                                    key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


@dataclass
class YamlDocument:
    """A YAML mapping read from a file, with the line of each key for error messages.

    Attributes
    ----------
    path : str
        The file, as errors name it.
    data : dict
        The document.
    lines : dict
        Key path (a tuple of keys and list positions) → 1-based line.
    """

    path: str
    data: dict[str, Any]
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def error(self, key: tuple[Any, ...], message: str, expected: str | None = None,
              found: object = None) -> InputFileError:
        """An error located at ``key`` (its line, and its dotted name as the column)."""
        name = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in key).lstrip(".")
        line = next((self.lines[key[:n]] for n in range(len(key), -1, -1)
                     if key[:n] in self.lines), None)
        return InputFileError(self.path, message, line, name or None, expected,
                              None if found is None else str(found))


def load_yaml(path: Path | str, what: str) -> YamlDocument:
    """Read a YAML mapping, refusing duplicated keys.

    Parameters
    ----------
    path : Path or str
        The file.
    what : str
        What the file describes, for messages (« le connecteur »).

    Raises
    ------
    InputFileError
        For a missing file, text that is not UTF-8 or not YAML, a duplicated key, or a
        document that is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, f"fichier introuvable ({what})")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(path, "le fichier n'est pas un texte UTF-8",
                             expected="un fichier YAML en UTF-8") from None
    data, lines = parse_yaml(path, text, _Loader)
    if not isinstance(data, dict):
        raise InputFileError(path, f"{what} doit être une suite de lignes « clé: valeur »", 1,
                             expected="un dictionnaire YAML", found=type(data).__name__)
    return YamlDocument(str(path), data, lines)


def check_keys(document: YamlDocument, data: dict[str, Any], allowed: set[str],
               key: tuple[Any, ...] = ()) -> None:
    """Refuse a key not in ``allowed``, suggesting the closest one."""
    for name in data:
        if name not in allowed:
            close = difflib.get_close_matches(str(name), sorted(allowed), n=1)
            hint = f" ; vouliez-vous dire {close[0]!r} ?" if close else ""
            raise document.error((*key, name), f"clé inconnue {name!r}{hint}",
                                 expected=", ".join(sorted(allowed)), found=name)


# -- the connector --------------------------------------------------------------------

def load_spec(path: Path | str) -> ConnectorSpec:
    """Read and check a connector's YAML file.

    Raises
    ------
    InputFileError
        At the first problem, with the file, the line and the key.

    Examples
    --------
    >>> from cohesion.innovations.connectors import SOURCES
    >>> spec = load_spec(SOURCES / "transiscope.yaml")
    >>> spec.name, spec.format, spec.key
    ('transiscope', 'csv', KeySpec(field=None, url=None, title=True))
    """
    document = load_yaml(path, "le connecteur")
    data = document.data
    check_keys(document, data, _TOP_KEYS)
    for name in _REQUIRED:
        if data.get(name) in (None, ""):
            raise document.error((name,), f"clé {name!r} absente ou vide",
                                 expected=f"une valeur pour {name}")
    name = _text(document, ("name",))
    if not name.replace("-", "").isalnum() or name != name.lower():
        raise document.error(("name",), "nom de source invalide",
                             expected="minuscules, chiffres et tirets (dotations-2019)",
                             found=name)
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise document.error(("version",), "version invalide", expected="un entier ≥ 1",
                             found=version)
    fmt = _text(document, ("format",))
    if fmt not in FORMATS:
        raise document.error(("format",), f"format inconnu {fmt!r}",
                             expected=", ".join(FORMATS), found=fmt)
    locations = _locations(document)
    html = _html(document) if fmt == "html" else None
    if fmt == "html" and html is None:
        raise document.error(("html",), "une source HTML doit déclarer ses pages",
                             expected="html: {items: SÉLECTEUR, next: SÉLECTEUR}")
    fields = _fields(document, fmt)
    key = _key(document)
    if key.url and key.url not in fields and not (key.url == "source_url"):
        raise document.error(("key", "url"), f"le champ {key.url!r} n'est pas dans fields",
                             expected="un champ déclaré dans fields", found=key.url)
    if "title" not in fields:
        raise document.error(("fields",), "le champ title est obligatoire",
                             expected="fields: {title: …}")
    taxonomy = data.get("taxonomy") or {}
    if not isinstance(taxonomy, dict):
        raise document.error(("taxonomy",), "taxonomy doit être un dictionnaire",
                             expected="{vocabulary: NOM, tree: EMPLACEMENT}", found=taxonomy)
    check_keys(document, taxonomy, _TAXONOMY_KEYS, ("taxonomy",))
    point = str(data.get("point", "lieu"))
    if point not in POINT_KINDS:
        raise document.error(("point",), f"type de point inconnu {point!r}",
                             expected=" ou ".join(POINT_KINDS), found=point)
    header_row = data.get("header_row", 1)
    if isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1:
        raise document.error(("header_row",), "ligne d'en-tête invalide",
                             expected="un entier ≥ 1", found=header_row)
    types = data.get("types") or []
    if fmt == "jsonld" and not types:
        raise document.error(("types",), "une source JSON-LD doit nommer ses types",
                             expected="types: [Project, Organization]")
    return ConnectorSpec(
        name=name, version=version, title=_text(document, ("title",)),
        producer=_text(document, ("producer",)), licence=_text(document, ("licence",)),
        format=fmt, locations=locations, key=key, fields=fields,
        page=_optional_text(document, ("page",)),
        encoding=_optional_text(document, ("encoding",)),
        sheet=_optional_text(document, ("sheet",)), header_row=header_row,
        records=_optional_text(document, ("records",)),
        types=tuple(_text(document, ("types", i)) for i in range(len(types))),
        html=html, vocabulary=_optional_text(document, ("taxonomy", "vocabulary")),
        tree=_optional_text(document, ("taxonomy", "tree")), point=point,
        connector_class=_optional_text(document, ("class",)), path=document.path)


def _value(document: YamlDocument, key: tuple[Any, ...]) -> Any:
    current: Any = document.data
    for part in key:
        current = current[part]
    return current


def _text(document: YamlDocument, key: tuple[Any, ...], value: Any = None) -> str:
    """The text at ``key`` (or ``value``, found there), checked."""
    value = _value(document, key) if value is None else value
    if isinstance(value, bool) or not isinstance(value, str | int | float) or \
            not str(value).strip():
        raise document.error(key, f"{key[-1]} doit être un texte", expected="un texte",
                             found=value)
    return str(value).strip()


def _optional_text(document: YamlDocument, key: tuple[Any, ...]) -> str | None:
    try:
        value = _value(document, key)
    except (KeyError, IndexError):
        return None
    return None if value is None else _text(document, key)


def _locations(document: YamlDocument) -> tuple[str, ...]:
    data = document.data
    if ("location" in data) == ("locations" in data):
        raise document.error(("location",), "donner location ou locations (l'un des deux)",
                             expected="location: CHEMIN, ou locations: [CHEMIN, …]")
    if "location" in data:
        return (_text(document, ("location",)),)
    if not isinstance(data["locations"], list) or not data["locations"]:
        raise document.error(("locations",), "locations doit être une liste non vide",
                             expected="[CHEMIN, …]", found=data["locations"])
    return tuple(_text(document, ("locations", i)) for i in range(len(data["locations"])))


def _html(document: YamlDocument) -> HtmlSpec | None:
    raw = document.data.get("html")
    if raw is None:
        return None
    if not isinstance(raw, dict) or "items" not in raw:
        raise document.error(("html",), "html doit donner le sélecteur des entrées",
                             expected="{items: SÉLECTEUR, next: SÉLECTEUR}", found=raw)
    check_keys(document, raw, _HTML_KEYS, ("html",))
    pages = raw.get("max_pages", DEFAULT_MAX_PAGES)
    if isinstance(pages, bool) or not isinstance(pages, int) or pages < 1:
        raise document.error(("html", "max_pages"), "nombre de pages invalide",
                             expected="un entier ≥ 1", found=pages)
    return HtmlSpec(_text(document, ("html", "items")),
                    _optional_text(document, ("html", "next")), pages)


def _key(document: YamlDocument) -> KeySpec:
    raw = document.data["key"]
    if not isinstance(raw, dict) or not raw:
        raise document.error(("key",), "key doit dire comment faire l'identifiant",
                             expected="{field: CHAMP}, {url: url}, {title: true}", found=raw)
    check_keys(document, raw, _KEY_KEYS, ("key",))
    url = _optional_text(document, ("key", "url"))
    if url is not None and url not in URL_FIELDS:
        raise document.error(("key", "url"), "adresse de clé invalide",
                             expected=" ou ".join(URL_FIELDS), found=url)
    title = raw.get("title", False)
    if not isinstance(title, bool):
        raise document.error(("key", "title"), "title vaut true ou false",
                             expected="true ou false", found=title)
    return KeySpec(_optional_text(document, ("key", "field")), url, title)


def _fields(document: YamlDocument, fmt: str) -> dict[str, FieldSpec]:
    raw = document.data["fields"]
    if not isinstance(raw, dict):
        raise document.error(("fields",), "fields doit associer les champs à leur origine",
                             expected="{title: COLONNE, …}", found=raw)
    check_keys(document, raw, set(MAPPED_FIELDS), ("fields",))
    return {name: _field(document, name, entry, fmt) for name, entry in raw.items()}


def _field(document: YamlDocument, name: str, entry: Any, fmt: str) -> FieldSpec:
    key: tuple[Any, ...] = ("fields", name)
    if isinstance(entry, str):
        entry = {"from": entry}
    if not isinstance(entry, dict):
        raise document.error(key, "origine de champ invalide",
                             expected="une colonne, ou {from: …, transforms: […]}", found=entry)
    check_keys(document, entry, _FIELD_KEYS, key)
    origins = [k for k in ("from", "value", "select") if k in entry]
    if len(origins) != 1:
        raise document.error(key, "donner une seule origine : from, value ou select",
                             expected="from: CHAMP, value: CONSTANTE ou select: SÉLECTEUR",
                             found=", ".join(origins) or "aucune")
    if "select" in entry and fmt != "html":
        raise document.error((*key, "select"), "select ne sert qu'aux sources HTML",
                             expected="from: CHAMP")
    sources: tuple[str, ...] = ()
    if "from" in entry:
        raw = entry["from"]
        names = raw if isinstance(raw, list) and raw else [raw]
        sources = tuple(_text(document, (*key, "from"), name) for name in names)
    transforms = entry.get("transforms") or []
    if not isinstance(transforms, list):
        raise document.error((*key, "transforms"), "transforms doit être une liste",
                             expected="[first_sentence, {split: ','}]", found=transforms)
    parsed = tuple(_transform(document, (*key, "transforms", i), step)
                   for i, step in enumerate(transforms))
    for flag in ("optional", "all"):
        if not isinstance(entry.get(flag, False), bool):
            raise document.error((*key, flag), f"{flag} vaut true ou false",
                                 expected="true ou false", found=entry[flag])
    optional = {k: None if entry.get(k) is None else _text(document, (*key, k), entry[k])
                for k in ("value", "select", "attribute")}
    return FieldSpec(name, sources, optional["value"], optional["select"],
                     optional["attribute"], bool(entry.get("all", False)), parsed,
                     bool(entry.get("optional", False)))


def _transform(document: YamlDocument, key: tuple[Any, ...], step: Any) -> Transform:
    if isinstance(step, str):
        name, argument = step, None
    elif isinstance(step, dict) and len(step) == 1:
        name, argument = next(iter(step.items()))
    else:
        raise document.error(key, "transformation invalide",
                             expected="un nom, ou {nom: argument}", found=step)
    if name not in TRANSFORMS:
        close = difflib.get_close_matches(str(name), sorted(TRANSFORMS), n=1)
        hint = f" ; vouliez-vous dire {close[0]!r} ?" if close else ""
        raise document.error(key, f"transformation inconnue {name!r}{hint}",
                             expected=", ".join(sorted(TRANSFORMS)), found=name)
    try:
        return TRANSFORMS[name].bind(argument)
    except ValueError as error:
        raise document.error(key, f"argument de {name} invalide : {error}",
                             found=argument) from None
