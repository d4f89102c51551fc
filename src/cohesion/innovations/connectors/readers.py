"""Readers of the source formats: each turns one fetched document into :class:`Entries`.

An entry is one row of a table (CSV, XLSX), one object of a JSON array, one node of a
JSON-LD graph of the types asked for, one item of an RSS or Atom feed, or one element of
an HTML list page (pages followed through their « next » link). The readers keep, for
every entry, where it is (``fichier.csv, ligne 12``), the address of its document and
the entry as the source gave it (the record's ``raw`` payload).

A reader refuses what is not the format it reads, with the address and, where it has
one, the line. A declared source field that no entry has at all (a missing column, a
JSON key in no record, a CSS selector matching nothing) is a layout change: the run
fails with a message naming it, unless the connector marks the field ``optional``.

Existing readers are reused: :func:`~cohesion.importers.reading.read_csv_table`
(separator and encoding detection), :func:`~cohesion.importers.reading.read_xlsx_table`,
:func:`~cohesion.importers.funding.read_json_records` (JSON arrays, with lines).
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import nh3
import pandas as pd

from cohesion.errors import InputFileError
from cohesion.importers.funding import read_json_records
from cohesion.importers.reading import (
    detect_encoding,
    read_csv_table,
    read_xlsx_table,
    require_columns,
)
from cohesion.importers.sheets import sheet_head
from cohesion.innovations.connectors.spec import ConnectorSpec, FieldSpec
from cohesion.innovations.fetching import Fetched, Fetcher

#: Prefixes of schema.org type names in JSON-LD (``schema:Project``, an IRI).
_SCHEMA_PREFIX = re.compile(r"^(https?://schema\.org/|schema:)")
#: Encodings that read any byte: a file declared so but written in UTF-8 is mojibake.
_SINGLE_BYTE = {"latin-1", "latin1", "iso-8859-1", "iso8859-1", "cp1252", "windows-1252",
                "iso-8859-15"}


@dataclass
class Entries:
    """Entries read from a source's documents.

    Attributes
    ----------
    frame : DataFrame
        One row per entry; a column per source field read (object values: text,
        numbers, lists, None).
    where : list of str
        Where each entry is, as a user finds it (``adresse, ligne 12``).
    addresses : list of str
        The address of each entry's document (its records' default ``source_url``).
    raw : list of dict
        Each entry as the source gave it (JSON-serialisable).
    notes : list of str
        What the reader wants the run report to say (pages not read…).
    """

    frame: pd.DataFrame
    where: list[str]
    addresses: list[str]
    raw: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    @classmethod
    def concat(cls, parts: list[Entries]) -> Entries:
        """The entries of several documents, in order."""
        return cls(pd.concat([p.frame for p in parts], ignore_index=True),
                   [w for p in parts for w in p.where],
                   [a for p in parts for a in p.addresses],
                   [r for p in parts for r in p.raw], [n for p in parts for n in p.notes])

    def __len__(self) -> int:
        return len(self.frame)


@contextmanager
def located(fetched: Fetched) -> Iterator[None]:
    """Make errors about ``fetched``'s local copy name the address that was read."""
    try:
        yield
    except InputFileError as error:
        shown = str(error.path).replace(str(fetched.path), fetched.address)
        raise dataclasses.replace(error, path=shown) from None


# -- tables -----------------------------------------------------------------------------

def read_csv(fetched: Fetched, spec: ConnectorSpec, fetcher: Fetcher) -> Entries:
    """A CSV table: the declared encoding, checked, or the detected one."""
    with located(fetched):
        if spec.encoding is not None:
            check_encoding(fetched.path, spec.encoding)
        table = read_csv_table(fetched.path, encoding=spec.encoding)
        require_columns(table, _required(spec), f"le connecteur {spec.name}")
    return table_entries(table.frame, fetched.address, table.line_of)


def read_xlsx(fetched: Fetched, spec: ConnectorSpec, fetcher: Fetcher) -> Entries:
    """A sheet of a workbook: ``sheet`` names it or its name's start (default: the first)."""
    with located(fetched):
        head = sheet_head(fetched.path, prefix=spec.sheet)
        table = read_xlsx_table(fetched.path, head.sheet, spec.header_row)
        require_columns(table, _required(spec), f"le connecteur {spec.name}")
    return table_entries(table.frame, fetched.address, table.line_of, head.sheet)


def _required(spec: ConnectorSpec) -> list[str]:
    optional = {name for f in spec.fields.values() if f.optional for name in f.sources}
    return [name for name in spec.sources_read() if name not in optional]


def table_entries(frame: pd.DataFrame, address: str, line_of: Callable[[int], int],
                  sheet: str | None = None) -> Entries:
    """The rows of a table of text as entries (empty cells become None).

    Parameters
    ----------
    frame : DataFrame
        Cells as text, empty text for empty cells
        (:class:`~cohesion.importers.reading.Table`).
    address : str
        The document read.
    line_of : callable
        The file line of a row position.
    sheet : str, optional
        The sheet of a workbook, named in the entries' places.
    """
    values = frame.astype(object).where(frame != "", None)
    raw = [{k: v for k, v in row.items() if v is not None}
           for row in values.to_dict("records")]
    shown = f"{address} [feuille {sheet}]" if sheet else address
    return Entries(values, [f"{shown}, ligne {line_of(i)}" for i in range(len(frame))],
                   [address] * len(frame), raw)


def check_encoding(path: Path, encoding: str) -> None:
    """Refuse a text file that is not in ``encoding``, naming the first wrong line.

    Raises
    ------
    InputFileError
        For bytes that ``encoding`` cannot read, or a file declared in a single-byte
        encoding (latin-1, cp1252) that is UTF-8 with accents (it would be read as
        « Ã© »); the line is the text line of the first byte in question.
    """
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise InputFileError(path, f"encodage inconnu {encoding!r}",
                             expected="utf-8, cp1252, latin-1…", found=encoding) from None
    data = path.read_bytes()
    try:
        data.decode(codec)
    except UnicodeDecodeError as error:
        raise InputFileError(
            path, f"le fichier n'est pas en {encoding}, l'encodage que déclare son connecteur",
            line=data.count(b"\n", 0, error.start) + 1,
            expected=f"un texte en {encoding}",
            found=f"l'octet 0x{data[error.start]:02x}, illisible en {encoding} (fichier en "
            "latin-1 ou cp1252 ?)") from None
    if codec.replace("_", "-") in _SINGLE_BYTE and \
            detect_encoding(path, data[:4]).startswith("utf-8"):
        first = re.search(rb"[\x80-\xff]", data)
        if first is not None:
            raise InputFileError(
                path, f"le fichier est en UTF-8, pas en {encoding} comme le déclare son "
                "connecteur", line=data.count(b"\n", 0, first.start()) + 1,
                expected=f"un texte en {encoding}",
                found=data[first.start():first.start() + 20].decode("utf-8", "replace"))


# -- JSON -------------------------------------------------------------------------------

def value_at(node: Any, path: str, graph: dict[str, Any] | None = None) -> Any:
    """The value at a dotted ``path`` of a JSON value; lists are walked through.

    A JSON-LD reference (``{"@id": "#asso"}``) is replaced by the node of ``graph``
    it names; a value object (``{"@value": "…"}``) by its value; an object at the end
    of the path by its ``name``.

    Examples
    --------
    >>> project = {"name": "Ressourcerie", "location": {"@id": "#lieu"},
    ...            "keywords": [{"@value": "réemploi"}, "déchets"]}
    >>> graph = {"#lieu": {"address": {"postalCode": "87000"}}}
    >>> value_at(project, "location.address.postalCode", graph)
    '87000'
    >>> value_at(project, "keywords")
    ['réemploi', 'déchets']
    """
    current = node
    for part in path.split("."):
        current = _step(current, part, graph or {})
        if current is None:
            return None
    return _final(current, graph or {})


def _resolved(value: Any, graph: dict[str, Any]) -> Any:
    if isinstance(value, dict) and set(value) == {"@id"}:
        return graph.get(value["@id"], value)
    return value


def _step(value: Any, part: str, graph: dict[str, Any]) -> Any:
    value = _resolved(value, graph)
    if isinstance(value, list):
        found = [_step(item, part, graph) for item in value]
        flat = [x for item in found for x in (item if isinstance(item, list) else [item])
                if x is not None]
        return flat or None
    return value.get(part) if isinstance(value, dict) else None


def _final(value: Any, graph: dict[str, Any]) -> Any:
    value = _resolved(value, graph)
    if isinstance(value, list):
        items = [_final(item, graph) for item in value]
        return [item for item in items if item is not None] or None
    if isinstance(value, dict):
        return value.get("@value", value.get("name"))
    return value


def _object_entries(objects: list[dict[str, Any]], where: list[str], address: str,
                    spec: ConnectorSpec, graph: dict[str, Any] | None = None) -> Entries:
    columns = {name: [value_at(o, name, graph) for o in objects]
               for name in spec.sources_read()}
    frame = pd.DataFrame(columns, dtype=object, index=range(len(objects)))
    _check_found(frame, spec, address)
    return Entries(frame, where, [address] * len(objects), objects)


def _check_found(frame: pd.DataFrame, spec: ConnectorSpec, address: str) -> None:
    """Refuse a declared source field that no entry has (a layout change)."""
    if frame.empty:
        return
    for name in _required(spec):
        if frame[name].isna().all():
            raise InputFileError(address, f"aucune entrée n'a le champ {name!r} que lit le "
                                 f"connecteur {spec.name} : le format de la source a changé ?",
                                 column=name, expected=f"un champ {name} dans les entrées")


def read_json(fetched: Fetched, spec: ConnectorSpec, fetcher: Fetcher) -> Entries:
    """A JSON array of objects, or the array at the dotted path ``records``."""
    with located(fetched):
        if spec.records is None:
            objects, lines = read_json_records(fetched.path)
            where = [f"{fetched.address}, enregistrement {n}, ligne {line}"
                     for n, line in enumerate(lines, start=1)]
        else:
            document = _load_json(fetched)
            found = value_at(document, spec.records) if isinstance(document, dict) else None
            if not isinstance(found, list) or not all(isinstance(o, dict) for o in found):
                raise InputFileError(fetched.address, f"pas de tableau d'objets en "
                                     f"{spec.records!r}", expected="un tableau [{…}, …]",
                                     found=type(found).__name__)
            objects = found
            where = [f"{fetched.address}, enregistrement {n}"
                     for n in range(1, len(objects) + 1)]
        return _object_entries(objects, where, fetched.address, spec)


def _load_json(fetched: Fetched) -> Any:
    try:
        return json.loads(fetched.path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputFileError(fetched.address, "le fichier n'est pas un texte UTF-8",
                             expected="du JSON en UTF-8") from None
    except json.JSONDecodeError as error:
        raise InputFileError(fetched.address, f"JSON illisible : {error.msg}",
                             line=error.lineno, expected="un document JSON complet") from None


def read_jsonld(fetched: Fetched, spec: ConnectorSpec, fetcher: Fetcher) -> Entries:
    """The nodes of the types ``types`` of a JSON-LD document (or of a page's scripts)."""
    if fetched.looks_like_html():
        from selectolax.lexbor import LexborHTMLParser

        page = LexborHTMLParser(_decode(fetched, spec))
        documents = []
        for number, script in enumerate(page.css('script[type="application/ld+json"]'), 1):
            try:
                documents.append(json.loads(script.text()))
            except json.JSONDecodeError as error:
                raise InputFileError(fetched.address, f"JSON-LD illisible dans le bloc "
                                     f"{number} de la page : {error.msg}",
                                     expected="du JSON") from None
    else:
        with located(fetched):
            documents = [_load_json(fetched)]
    nodes = [node for document in documents for node in _nodes(document)]
    graph = {node["@id"]: node for node in nodes if isinstance(node.get("@id"), str)}
    wanted = set(spec.types)
    kept = [node for node in nodes if wanted & _types(node)]
    where = [f"{fetched.address}, nœud {node.get('@id') or n}"
             for n, node in enumerate(kept, start=1)]
    return _object_entries(kept, where, fetched.address, spec, graph)


def _nodes(document: Any) -> Iterator[dict[str, Any]]:
    """Every node of a JSON-LD document: top-level objects, ``@graph`` members."""
    if isinstance(document, list):
        for item in document:
            yield from _nodes(item)
    elif isinstance(document, dict):
        if "@graph" in document:
            yield from _nodes(document["@graph"])
        else:
            yield document


def _types(node: dict[str, Any]) -> set[str]:
    declared = node.get("@type", [])
    names = declared if isinstance(declared, list) else [declared]
    return {_SCHEMA_PREFIX.sub("", str(name)) for name in names}


# -- feeds ------------------------------------------------------------------------------

def read_feed(fetched: Fetched, spec: ConnectorSpec, fetcher: Fetcher) -> Entries:
    """The items of an RSS or Atom feed (feedparser's names: ``title``, ``link``…).

    ``content`` is the first content's value, ``tags`` the list of the categories'
    terms; the other values as feedparser gives them, as text.
    """
    import feedparser

    feed = feedparser.parse(fetched.path.read_bytes())
    if not feed.version and not feed.entries:
        problem = feed.get("bozo_exception")
        raise InputFileError(fetched.address, "ce n'est pas un flux RSS ou Atom"
                             + (f" ({problem})" if problem else ""),
                             expected="un flux RSS 2.0 ou Atom")
    items = [_feed_item(entry) for entry in feed.entries]
    where = [f"{fetched.address}, entrée {n}" for n in range(1, len(items) + 1)]
    return _object_entries(items, where, fetched.address, spec)


def _feed_item(entry: dict[str, Any]) -> dict[str, Any]:
    item = {key: value for key, value in entry.items() if isinstance(value, str)}
    if entry.get("content"):
        item["content"] = entry["content"][0].get("value")
    if entry.get("tags"):
        item["tags"] = [tag["term"] for tag in entry["tags"] if tag.get("term")]
    return item


# -- HTML pages -------------------------------------------------------------------------

def read_html(fetched: Fetched, spec: ConnectorSpec, fetcher: Fetcher) -> Entries:
    """The entries of a list page and of the pages its « next » links lead to.

    Every field with a ``select`` becomes a column named after the field: the HTML of
    the first element matched (of each one with ``all``), or its ``attribute``; links
    (``href``, ``src``) are made absolute.

    Raises
    ------
    InputFileError
        When a page has no entry (``items`` matches nothing), or a field's selector
        matches nothing in any entry: the site's layout changed.
    """
    from selectolax.lexbor import LexborHTMLParser

    assert spec.html is not None
    parts, seen, notes = [], {fetched.address}, []
    page: Fetched | None = fetched
    while page is not None:
        tree = LexborHTMLParser(_decode(page, spec))
        items = tree.css(spec.html.items)
        if not items:
            raise InputFileError(page.address, f"le sélecteur d'entrées "
                                 f"{spec.html.items!r} ne trouve rien sur la page : la mise en "
                                 f"page du site a changé ? (connecteur {spec.name})",
                                 expected="au moins une entrée")
        selected = [f for f in spec.fields.values() if f.select]
        columns = {f.name: [_selected(item, f, page.address) for item in items]
                   for f in selected}
        frame = pd.DataFrame(columns, dtype=object, index=range(len(items)))
        # the raw payload keeps the markup, made safe: no script survives anywhere
        parts.append(Entries(
            frame, [f"{page.address}, entrée {n}" for n in range(1, len(items) + 1)],
            [page.address] * len(items),
            [{k: _safe_html(v) for k, v in row.items() if v is not None}
             for row in frame.to_dict("records")]))
        link = tree.css_first(spec.html.next) if spec.html.next else None
        target = link.attributes.get("href") if link is not None else None
        address = urljoin(page.address, target) if target else None
        page = None
        if address is not None and address not in seen:
            if len(seen) >= spec.html.max_pages:
                notes.append(f"{spec.html.max_pages} pages lues, limite du connecteur "
                             f"atteinte : la suite ({address}) n'est pas lue")
            else:
                seen.add(address)
                page = fetcher.fetch(address)
    entries = Entries.concat(parts)
    entries.notes.extend(notes)
    for spec_field in spec.fields.values():
        if spec_field.select and not spec_field.optional and \
                entries.frame[spec_field.name].isna().all():
            raise InputFileError(fetched.address, f"le sélecteur {spec_field.select!r} du "
                                 f"champ {spec_field.name} ne trouve rien dans aucune entrée : "
                                 "la mise en page du site a changé ?",
                                 column=spec_field.name, expected="un élément par entrée")
    return entries


def _selected(item: Any, spec: FieldSpec, address: str) -> Any:
    assert spec.select is not None
    nodes = item.css(spec.select) if spec.all else [item.css_first(spec.select)]
    values = []
    for node in nodes:
        if node is None:
            continue
        if spec.attribute:
            value = node.attributes.get(spec.attribute)
            if value and spec.attribute in ("href", "src"):
                value = urljoin(address, value)
        else:
            value = node.html
        if value:
            values.append(value)
    if spec.all:
        return values or None
    return values[0] if values else None


def _safe_html(value: str | list[str]) -> str | list[str]:
    """HTML without scripts, event handlers nor other unsafe markup (nh3's defaults)."""
    if isinstance(value, list):
        return [nh3.clean(v) for v in value]
    return nh3.clean(value)


def _decode(fetched: Fetched, spec: ConnectorSpec) -> str:
    data = fetched.path.read_bytes()
    if spec.encoding:
        return data.decode(spec.encoding, errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


#: The reader of each format.
READERS: dict[str, Callable[[Fetched, ConnectorSpec, Fetcher], Entries]] = {
    "csv": read_csv, "xlsx": read_xlsx, "json": read_json, "jsonld": read_jsonld,
    "rss": read_feed, "html": read_html,
}
