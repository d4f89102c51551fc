"""A connector at work: fetch its documents, read their entries, map them to records.

:class:`Connector` does what a YAML connector declares; a source that needs code (ANCT's
two sources, :mod:`~cohesion.innovations.connectors.anct`) subclasses it and replaces
:meth:`Connector.entries` only, keeping the declared mapping.

The mapping of each field runs on a whole column: every text is made plain
(:func:`~cohesion.innovations.connectors.transforms.html_to_text`), the field's
transforms run, then the value is checked for its field's kind (a web address, a
SIRET of 14 digits, a latitude…). A value that fails the check is left out of the
record, which is kept, and counted in the notes. An entry without a title, or whose id
cannot be made, or whose id an earlier entry already has, is refused with its place and
the reason (:class:`~cohesion.innovations.records.RowFailure`): nothing is dropped
silently.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from cohesion.errors import CohesionError, InputFileError
from cohesion.innovations.connectors import SOURCES
from cohesion.innovations.connectors.readers import READERS, Entries
from cohesion.innovations.connectors.spec import (
    CODE_FIELDS,
    DATE_FIELDS,
    LIST_FIELDS,
    NUMBER_FIELDS,
    PARAGRAPH_FIELDS,
    TEXT_FIELDS,
    URL_FIELDS,
    ConnectorSpec,
    FieldSpec,
    load_spec,
)
from cohesion.innovations.connectors.transforms import html_to_text, one_line, parse_date
from cohesion.innovations.fetching import Fetched, Fetcher, Progress, resolve
from cohesion.innovations.records import Record, RowFailure, stable_id
from cohesion.innovations.taxonomy import ConceptTree, Taxonomy, Vocabulary
from cohesion.policies.funding import counted

#: Pattern of each code field once spaces are removed.
CODE_PATTERNS = {"siret": r"\d{14}", "postcode": r"\d{5}", "commune": r"(\d{5}|2[AB]\d{3})",
                 "departement": r"(\d{2}|2[AB]|97\d)"}
#: Width of each code that JSON may give as a number (leading zeros lost).
_CODE_WIDTHS = {"siret": 14, "postcode": 5, "commune": 5, "departement": 2}
_BOUNDS = {"lat": 90.0, "lon": 180.0}
_HOST = re.compile(r"^[\w-]+(\.[\w-]+)+(:\d+)?(/\S*)?$")
_WEB = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)


@dataclass
class Reading:
    """What a connector read: records, refused entries, and what to tell about it.

    Attributes
    ----------
    records : list of Record
    failures : list of RowFailure
    fetched : list of str
        Addresses read.
    notes : list of str
        Values left out, pages not read… in French, for the run report.
    unmapped : Counter
        Tags the taxonomy does not map, with their number of records.
    """

    records: list[Record] = field(default_factory=list)
    failures: list[RowFailure] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unmapped: Counter[str] = field(default_factory=Counter)


class Connector:
    """A source, read as its :class:`~cohesion.innovations.connectors.spec.ConnectorSpec` says.

    Parameters
    ----------
    spec : ConnectorSpec
        The declaration.
    taxonomy : Taxonomy, optional
        The facets and vocabularies (default: the shipped ``taxonomy.yaml``).
    """

    def __init__(self, spec: ConnectorSpec, taxonomy: Taxonomy | None = None) -> None:
        self.spec = spec
        self.taxonomy = taxonomy or Taxonomy.load()

    @property
    def name(self) -> str:
        """The source's slug."""
        return self.spec.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec.name} v{self.spec.version}>"

    # -- reading ------------------------------------------------------------------------

    def read(self, root: str | Path, fetcher: Fetcher, progress: Progress | None = None,
             fetched: list[str] | None = None) -> Reading:
        """Fetch, read and map the whole source.

        ``fetched``, when given, receives the addresses read as they are read (what a
        failed run did read).

        Raises
        ------
        CohesionError
            When the source cannot be read as declared (unreachable, forbidden, a
            layout change): the run fails, no record is returned.
        """
        fetched = [] if fetched is None else fetched
        entries = self.entries(root, fetcher, fetched, progress)
        if not len(entries):
            raise CohesionError(f"{self.name} : la source ne contient aucune entrée "
                                f"({', '.join(fetched)}) : fichier vidé ou format changé ?")
        vocabulary = self.vocabulary(root, fetcher, fetched)
        reading = self.records(entries, vocabulary, progress)
        reading.fetched = fetched
        return reading

    def fetch(self, root: str | Path, location: str, fetcher: Fetcher,
              fetched: list[str]) -> Fetched:
        """Fetch one location under ``root``, noting its address in ``fetched``.

        A web page where a data file is expected (an error or login page) is refused.
        """
        document = fetcher.fetch(resolve(root, location))
        fetched.append(document.address)
        if self.spec.format not in ("html", "jsonld") and document.looks_like_html():
            raise InputFileError(document.address, "le serveur a envoyé une page web au lieu "
                                 f"des données ({self.spec.format}) : adresse changée ?")
        return document

    def entries(self, root: str | Path, fetcher: Fetcher, fetched: list[str],
                progress: Progress | None = None) -> Entries:
        """The entries of every location, read with the reader of the format."""
        reader = READERS[self.spec.format]
        parts = []
        for done, location in enumerate(self.spec.locations, start=1):
            document = self.fetch(root, location, fetcher, fetched)
            parts.append(reader(document, self.spec, fetcher))
            # an HTML source's next pages, fetched by its reader
            fetched.extend(a for a in dict.fromkeys(parts[-1].addresses) if a not in fetched)
            if progress is not None:
                progress("lecture", done, len(self.spec.locations))
        return Entries.concat(parts)

    def vocabulary(self, root: str | Path, fetcher: Fetcher, fetched: list[str]) -> Vocabulary:
        """The source's vocabulary, with its category tree when it has one.

        A source that names no vocabulary and has none under its name maps no tag.
        """
        if self.spec.vocabulary is None and self.name not in self.taxonomy:
            return Vocabulary(self.name, {}, {})
        tree = None
        if self.spec.tree is not None:
            document = self.fetch(root, self.spec.tree, fetcher, fetched)
            tree = ConceptTree.from_javascript(
                document.path.read_text(encoding="utf-8-sig"), document.address)
        return self.taxonomy.vocabulary(self.spec.vocabulary or self.name, tree)

    # -- mapping ------------------------------------------------------------------------

    def records(self, entries: Entries, vocabulary: Vocabulary,
                progress: Progress | None = None) -> Reading:
        """Map entries to records: fields, taxonomy, ids; refuse what cannot be a record."""
        reading = Reading(notes=list(entries.notes))
        values = {name: self._field(entries, spec, reading.notes)
                  for name, spec in self.spec.fields.items()}
        count = len(entries)
        if "source_url" not in values:
            values["source_url"] = pd.Series(entries.addresses, dtype=object)
        values["source_url"] = values["source_url"].where(
            values["source_url"].notna(), pd.Series(entries.addresses, dtype=object))
        mapped = vocabulary.apply(values.get("tags", pd.Series([[]] * count, dtype=object)))
        reading.unmapped = mapped.unmapped
        # plain lists: reading them row by row is what makes 25,000 records quick
        column = {name: values[name].tolist() if name in values else [None] * count
                  for name in (*TEXT_FIELDS, *PARAGRAPH_FIELDS, *URL_FIELDS, *CODE_FIELDS,
                               *NUMBER_FIELDS, *DATE_FIELDS, "territories")}
        facets = {name: getattr(mapped, name).tolist()
                  for name in ("tags", "domaines", "publics", "actions")}
        keys = self._keys(entries)
        urls = column[self.spec.key.url] if self.spec.key.url else [None] * count
        seen: dict[str, int] = {}
        for row in range(count):
            title = column["title"][row]
            if not title:
                reading.failures.append(RowFailure(entries.where[row], "titre absent : une "
                                                   "fiche doit avoir un nom"))
                continue
            try:
                ident = stable_id(self.name, keys[row], url=urls[row],
                                  title=title if self.spec.key.title else None,
                                  commune=column["commune"][row])
            except ValueError:
                reading.failures.append(RowFailure(
                    entries.where[row], "identifiant impossible : ni clé, ni adresse "
                    "(le connecteur n'identifie pas ses fiches par leur titre)"))
                continue
            if ident in seen:
                reading.failures.append(RowFailure(
                    entries.where[row], f"identifiant en double : {ident} est déjà celui de "
                    f"{entries.where[seen[ident]]}"))
                continue
            seen[ident] = row
            value = {name: values_[row] for name, values_ in column.items()}
            siret = value["siret"]
            reading.records.append(Record(
                id=ident, source=self.name, source_key=ident.split(":", 1)[1], title=title,
                summary=value["summary"] or "", description=value["description"] or "",
                porteur=value["porteur"], siret=siret, siren=siret[:9] if siret else None,
                address=value["address"], postcode=value["postcode"],
                commune=value["commune"], commune_name=value["commune_name"],
                departement=value["departement"], lat=value["lat"], lon=value["lon"],
                territories=list(value["territories"] or []),
                domaines=facets["domaines"][row], publics=facets["publics"][row],
                actions=facets["actions"][row], programme=value["programme"],
                tags=facets["tags"][row], url=value["url"], source_url=value["source_url"],
                licence=self.spec.licence, updated=value["updated"] or "",
                raw=entries.raw[row]))
            if progress is not None and (row + 1) % 5000 == 0:
                progress("fiches", row + 1, count)
        if progress is not None:
            progress("fiches", count, count)
        return reading

    def _keys(self, entries: Entries) -> list[str | None]:
        """The source's own key of each entry (text), or None."""
        if self.spec.key.field is None:
            return [None] * len(entries)

        def text(value: Any) -> str | None:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if value is None or isinstance(value, list | dict) or \
                    (isinstance(value, float) and np.isnan(value)):
                return None
            return str(value).strip() or None

        return [text(v) for v in entries.frame[self.spec.key.field]]

    def _field(self, entries: Entries, spec: FieldSpec, notes: list[str]) -> pd.Series:
        """The values of one record field, for every entry."""
        count = len(entries)
        if spec.value is not None:
            values = pd.Series([spec.value] * count, dtype=object)
        elif spec.select is not None:
            values = entries.frame[spec.name]
        elif len(spec.sources) == 1:
            values = entries.frame[spec.sources[0]]
        else:
            values = pd.Series(entries.frame[list(spec.sources)].to_numpy().tolist(),
                               dtype=object)
        values = values.reset_index(drop=True).map(_plain)
        for transform in spec.transforms:
            values = transform(values)
        cleaned = _CLEANERS[_kind(spec.name)](values, spec.name)
        refused = (values.map(_given) & cleaned.isna()).to_numpy()
        if refused.any():
            row = int(np.argmax(refused))
            notes.append(counted(int(refused.sum()), f"valeur de {spec.name} invalide, "
                                 "laissée vide", f"valeurs de {spec.name} invalides, "
                                 "laissées vides")
                         + f" (par exemple {entries.where[row]} : "
                         f"{str(values.iloc[row])[:60]!r})")
        return cleaned


def _given(value: Any) -> bool:
    if isinstance(value, list):
        return any(_given(v) for v in value)
    return value is not None and not (isinstance(value, float) and np.isnan(value)) \
        and value != ""


def _plain(value: Any) -> Any:
    """Plain text of the texts of a value (a text, a list of texts), other values as they are."""
    if isinstance(value, str):
        return html_to_text(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _kind(name: str) -> str:
    for kind, names in (("text", TEXT_FIELDS), ("paragraphs", PARAGRAPH_FIELDS),
                        ("url", URL_FIELDS), ("code", CODE_FIELDS), ("number", NUMBER_FIELDS),
                        ("list", LIST_FIELDS), ("date", DATE_FIELDS)):
        if name in names:
            return kind
    raise AssertionError(f"unmapped field kind: {name}")


def _as_text(value: Any, separator: str) -> str | None:
    if isinstance(value, list):
        value = separator.join(str(v) for v in value if _given(v))
    elif isinstance(value, float) and value.is_integer():
        value = str(int(value))
    elif not isinstance(value, str):
        value = None if not _given(value) else str(value)
    return value or None


def _text(values: pd.Series, _: str) -> pd.Series:
    return values.map(lambda v: (one_line(t) or None) if (t := _as_text(v, ", ")) else None)


def _paragraphs(values: pd.Series, _: str) -> pd.Series:
    return values.map(lambda v: _as_text(v, "\n\n"))


def web_address(value: Any) -> str | None:
    """An http(s) address: the first one in the text, ``http://`` added to a bare host.

    Anything else (an e-mail address, « page Facebook », ``javascript:``) gives None.

    Examples
    --------
    >>> web_address("www.ad2r.re"), web_address("javascript:alert(1)")
    ('http://www.ad2r.re', None)
    >>> web_address("http://www.grandiravectoi.fr ET PAGE FACEBOOK")
    'http://www.grandiravectoi.fr'
    """
    text = _as_text(value, " ")
    if text is None:
        return None
    found = _WEB.search(text)
    if found is not None:
        text = found[0]
    elif _HOST.match(text.strip()):
        text = "http://" + text.strip()
    parts = urlsplit(text)
    return text if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def _urls(values: pd.Series, _: str) -> pd.Series:
    return values.map(web_address)


def _codes(values: pd.Series, name: str) -> pd.Series:
    pattern = re.compile(CODE_PATTERNS[name])

    def code(value: Any) -> str | None:
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            value = str(value).zfill(_CODE_WIDTHS[name])
        text = _as_text(value, " ")
        if text is None:
            return None
        text = re.sub(r"\s", "", text).upper()
        return text if pattern.fullmatch(text) else None

    return values.map(code)


def _numbers(values: pd.Series, name: str) -> pd.Series:
    def number(value: Any) -> float | None:
        if isinstance(value, str):
            value = value.strip().replace(",", ".")
        try:
            found = float(value)
        except (TypeError, ValueError):
            return None
        return found if np.isfinite(found) and abs(found) <= _BOUNDS[name] else None

    return pd.Series([number(v) for v in values], index=values.index, dtype=object)


def _lists(values: pd.Series, _: str) -> pd.Series:
    def items(value: Any) -> list[str]:
        listed = value if isinstance(value, list) else [value]
        texts = [one_line(t) for v in listed if (t := _as_text(v, " "))]
        return list(dict.fromkeys(t for t in texts if t))

    return values.map(items)


def _dates(values: pd.Series, _: str) -> pd.Series:
    return values.map(lambda v: parse_date(v) if isinstance(v, str) else None)


_CLEANERS: dict[str, Callable[[pd.Series, str], pd.Series]] = {
    "text": _text, "paragraphs": _paragraphs, "url": _urls, "code": _codes,
    "number": _numbers, "list": _lists, "date": _dates}


# -- loading ----------------------------------------------------------------------------

def builtin_connectors() -> list[str]:
    """Names of the shipped connectors (``sources/*.yaml``)."""
    return sorted(path.stem for path in SOURCES.glob("*.yaml"))


def load_connector(source: str | Path, taxonomy: Taxonomy | None = None) -> Connector:
    """The connector of a shipped source's name, or of a YAML file.

    A connector whose YAML names a ``class`` is built with that class, which must be a
    :class:`Connector` of the ``cohesion`` package (a connector file cannot make
    Cohésion import other code).

    Raises
    ------
    InputFileError
        For an invalid connector file.
    CohesionError
        For an unknown name, or a class that is not a Cohésion connector.
    """
    path = Path(source)
    if path.suffix.lower() not in (".yaml", ".yml"):
        if str(source) not in builtin_connectors():
            raise CohesionError(f"connecteur inconnu {source!r} (connecteurs livrés : "
                                f"{', '.join(builtin_connectors())} ; ou le chemin d'un "
                                "fichier .yaml)")
        path = SOURCES / f"{source}.yaml"
    spec = load_spec(path)
    if spec.connector_class is None:
        return Connector(spec, taxonomy)
    module, _, name = spec.connector_class.partition(":")
    if not module.startswith("cohesion.") or not name:
        raise CohesionError(f"{path} : classe de connecteur refusée {spec.connector_class!r} "
                            "(attendu module:Classe d'un module cohesion.…)")
    try:
        cls = getattr(import_module(module), name)
    except (ImportError, AttributeError):
        raise CohesionError(f"{path} : classe de connecteur introuvable "
                            f"{spec.connector_class!r}") from None
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise CohesionError(f"{path} : {spec.connector_class} n'est pas un connecteur")
    return cls(spec, taxonomy)
