"""French full-text search of innovations, behind one small interface and two backends.

The index holds one document per *entity* (a deduplicated innovation: the service merges
the records of an entity into one document, see :meth:`Record.document
<cohesion.innovations.records.Record.document>` for the fields). Two backends answer the
same :class:`SearchQuery` with the same :class:`SearchResult`:

- :class:`~cohesion.innovations.search.tantivy_index.TantivyIndex`, embedded, the
  default: a folder on disk, no server (tantivy);
- :class:`~cohesion.innovations.search.postgres_index.PostgresIndex`, the server mode:
  a table of a PostgreSQL database (``tsvector`` with ``unaccent``, ``pg_trgm``).

:func:`open_index` picks one from an address. Both read the query text with the same
:func:`parse_text`; the syntax (words, ``"phrases"``, ``prefix*``, ``-exclusions``) and
the French analysis are described in ``docs/innovations-search.md``.

Examples
--------
>>> parse_text('"jardin partagé" épicer* -vélo')
ParsedText(words=(Word(text='épicer', prefix=True, excluded=False), Word(text='vélo', \
prefix=False, excluded=True)), phrases=(Phrase(text='jardin partagé', excluded=False),))
>>> SearchQuery(text="crèche", per_page=500)
Traceback (most recent call last):
...
cohesion.errors.CohesionError: per_page vaut 500 : attendu un nombre de résultats par page \
entre 1 et 100
"""

from __future__ import annotations

import html
import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cohesion.errors import CohesionError

__all__ = [
    "FACETS",
    "SORTS",
    "Hit",
    "IndexedDocument",
    "ParsedText",
    "Phrase",
    "Point",
    "SearchIndex",
    "SearchQuery",
    "SearchResult",
    "SimilarHit",
    "Word",
    "haversine_km",
    "open_index",
    "parse_text",
    "place_of",
    "prepare_document",
    "snippet_html",
    "typo_distance",
]

#: Facets a query can filter on and count. List fields of the document, plus
#: ``departement`` (its code) and ``qpv`` (``oui`` when the innovation lies in a QPV).
FACETS = ("domaines", "publics", "actions", "programmes", "sources", "tags", "departement",
          "qpv")
#: Orders of the hits. ``relevance`` without text falls back to ``date``.
SORTS = ("relevance", "date", "proximity")

#: Bounds of a query, checked at the boundary (:class:`SearchQuery`).
MAX_TEXT_CHARS = 300
MAX_WORDS = 20
MAX_PER_PAGE = 100
#: Deepest hit a query may reach (page × per_page): deeper pages cost much and serve
#: nobody; a user refines the query instead.
MAX_WINDOW = 10_000
MAX_FILTER_VALUES = 50
MAX_FACET_LIMIT = 200
MAX_VALUE_CHARS = 500
MAX_SIMILAR = 50

#: A word found in at least this many documents is taken as typed: only rarer words
#: are corrected. Without this rule « santé » would also find « saint » (one letter
#: apart), and every commune named Saint-Quelque-Chose with it.
KNOWN_WORD_DOCS = 3
#: A prefix needs this many letters before ``*``: shorter ones match most of the index.
MIN_PREFIX_CHARS = 2
#: Words that say nothing of what an innovation does, left out of similarity (the stop
#: words of the analyzers already are): each backend analyzes them as it analyzes text.
COMMON_WORDS = ("est être été avoir ont aussi très bien plus moins tout tous toute toutes "
                "faire fait peut peuvent ainsi comme chez entre depuis dont afin autre autres "
                "cette ces celui celle ceux lors sans sous vers avec pour dans par leurs "
                "notre nos votre vos chaque également encore déjà donc car mais")

_TERRITORY_ID = re.compile(r"^[A-Z][A-Z0-9_]{0,9}:[0-9A-Za-z_.-]{1,40}$")
_EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Word:
    """A word of the query text, lower-cased, accents kept (the backends fold them).

    Attributes
    ----------
    text : str
        Letters and digits only.
    prefix : bool
        Matches the words starting with ``text`` (written ``mot*``, or the last word of a
        search-as-you-type query).
    excluded : bool
        The hits must not contain it (written ``-mot``).
    """

    text: str
    prefix: bool = False
    excluded: bool = False


@dataclass(frozen=True)
class Phrase:
    """Words that must follow each other (written between double quotes)."""

    text: str
    excluded: bool = False


@dataclass(frozen=True)
class ParsedText:
    """The query text, read: its words and its phrases, all required unless excluded."""

    words: tuple[Word, ...] = ()
    phrases: tuple[Phrase, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the text asks for nothing (every document matches)."""
        return not self.words and not self.phrases


_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')


def _pieces(token: str) -> list[str]:
    """Letters-and-digits runs of ``token``, lower-cased (as tantivy's tokenizer splits)."""
    return [piece.lower() for piece in re.findall(r"[^\W_]+", token)]


def parse_text(text: str, as_you_type: bool = False) -> ParsedText:
    """Read the text of a query: words, ``"phrases"``, ``prefix*`` and ``-exclusions``.

    A token such as ``l'épicerie`` or ``saint-étienne`` gives one word per run of
    letters (an excluded one gives a phrase, so that ``-saint-étienne`` does not exclude
    every « saint »). Punctuation alone is ignored.

    Parameters
    ----------
    text : str
        What the user typed.
    as_you_type : bool
        Take the last word as a prefix (search as you type), when it has at least
        :data:`MIN_PREFIX_CHARS` letters and the text does not end with a space.

    Returns
    -------
    ParsedText

    Raises
    ------
    CohesionError
        An unclosed double quote, ``*`` inside a word or after too short a prefix, or
        more than :data:`MAX_WORDS` words.

    Examples
    --------
    >>> parse_text("L'épicerie solidaire", as_you_type=True).words[-1]
    Word(text='solidaire', prefix=True, excluded=False)
    >>> parse_text('"jardin')
    Traceback (most recent call last):
    ...
    cohesion.errors.CohesionError: la recherche « "jardin » ouvre des guillemets sans les \
fermer : écrire par exemple "jardin partagé"
    """
    if text.count('"') % 2:
        raise CohesionError(f"la recherche « {text} » ouvre des guillemets sans les fermer : "
                            'écrire par exemple "jardin partagé"')
    words: list[Word] = []
    phrases: list[Phrase] = []
    ends_with_word = False
    for match in _TOKEN.finditer(text):
        ends_with_word = False
        if match[3] is None:
            if _pieces(match[2]):
                phrases.append(Phrase(" ".join(match[2].split()), excluded=bool(match[1])))
            continue
        token = match[3]
        excluded = token.startswith("-")
        token = token.lstrip("-")
        prefix = token.endswith("*")
        token = token.rstrip("*")
        if "*" in token:
            raise CohesionError(f"« {match[3]} » : le joker * ne s'emploie qu'en fin de mot, "
                                "par exemple jardin*")
        pieces = _pieces(token)
        if not pieces:
            continue
        if prefix and len(pieces[-1]) < MIN_PREFIX_CHARS:
            raise CohesionError(f"« {match[3]} » : écrire au moins {MIN_PREFIX_CHARS} lettres "
                                "avant le joker *")
        if excluded and len(pieces) > 1:
            phrases.append(Phrase(" ".join(pieces), excluded=True))
            continue
        words.extend(Word(piece, prefix=prefix and i == len(pieces) - 1, excluded=excluded)
                     for i, piece in enumerate(pieces))
        ends_with_word = not excluded and not prefix
    if len(words) + len(phrases) > MAX_WORDS:
        raise CohesionError(f"la recherche compte {len(words) + len(phrases)} mots ou "
                            f"expressions : {MAX_WORDS} au plus")
    if (as_you_type and ends_with_word and not text[-1:].isspace()
            and len(words[-1].text) >= MIN_PREFIX_CHARS):
        words[-1] = Word(words[-1].text, prefix=True)
    return ParsedText(tuple(words), tuple(phrases))


def typo_distance(word: str) -> int:
    """Edits allowed on ``word`` for typo tolerance: 0 up to 4 letters, 1 up to 8, else 2.

    Examples
    --------
    >>> [typo_distance(w) for w in ("vélo", "crèche", "épicerie", "solidaire")]
    [0, 1, 1, 2]
    """
    return 0 if len(word) <= 4 else 1 if len(word) <= 8 else 2


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise CohesionError(message)


def _strings(values: Iterable[Any], what: str) -> tuple[str, ...]:
    """Distinct non-empty stripped strings, in order; a clear error for anything else."""
    if isinstance(values, str):
        values = [values]
    kept: dict[str, None] = {}
    for value in values:
        _check(isinstance(value, str), f"{what} : {value!r} n'est pas un texte")
        value = value.strip()
        _check(len(value) <= MAX_VALUE_CHARS,
               f"{what} : une valeur de {len(value)} caractères ({MAX_VALUE_CHARS} au plus)")
        if value:
            kept[value] = None
    return tuple(kept)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(
        value)


@dataclass(frozen=True)
class SearchQuery:
    """A search, checked when it is made: an invalid one raises :class:`CohesionError`.

    Attributes
    ----------
    text : str
        Words, ``"phrases"``, ``prefix*``, ``-exclusions`` (:func:`parse_text`); empty:
        every document (filtered).
    filters : mapping of str to sequence of str
        Facet → accepted values (:data:`FACETS`). A hit has one of the values of each
        facet given.
    territories : sequence of str
        Territory ids (``EPCI:200054781``, ``DEP:33``, ``QPV:QN03301M``…); a hit concerns
        one of them.
    bbox : (west, south, east, north) or None
        Map bounds in degrees (WGS 84); hits without a point are left out.
    sort : str
        ``relevance``, ``date`` (last update first) or ``proximity`` (nearest ``point``
        first; hits without a point last).
    point : (lon, lat) or None
        Where proximity is measured from; required by ``proximity``. Hits then carry
        their distance.
    page, per_page : int
        1-based page; hits per page (1 to :data:`MAX_PER_PAGE`); page × per_page at
        most :data:`MAX_WINDOW`.
    facets : sequence of str
        Facets to count over the hits (all pages).
    facet_limit : int
        Values kept per facet, the most frequent first.
    as_you_type : bool
        Take the last word as a prefix (search as you type).
    """

    text: str = ""
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    territories: Sequence[str] = ()
    bbox: tuple[float, float, float, float] | None = None
    sort: str = "relevance"
    point: tuple[float, float] | None = None
    page: int = 1
    per_page: int = 20
    facets: Sequence[str] = ()
    facet_limit: int = 20
    as_you_type: bool = False

    def __post_init__(self) -> None:
        _check(isinstance(self.text, str), "le texte de la recherche doit être un texte")
        object.__setattr__(self, "text", self.text.replace("\x00", " "))  # PostgreSQL refuses it
        _check(len(self.text) <= MAX_TEXT_CHARS,
               f"la recherche compte {len(self.text)} caractères : {MAX_TEXT_CHARS} au plus")
        _check(isinstance(self.filters, Mapping), "les filtres doivent associer une facette "
                                                  "à ses valeurs")
        filters = {}
        for name, values in self.filters.items():
            _check(name in FACETS, f"facette inconnue « {name} » : attendu une de "
                                   f"{', '.join(FACETS)}")
            kept = _strings(values, f"filtre {name}")
            _check(len(kept) <= MAX_FILTER_VALUES,
                   f"filtre {name} : {len(kept)} valeurs ({MAX_FILTER_VALUES} au plus)")
            if kept:
                filters[name] = kept
        object.__setattr__(self, "filters", filters)
        territories = _strings(self.territories, "territoires")
        _check(len(territories) <= MAX_FILTER_VALUES,
               f"{len(territories)} territoires ({MAX_FILTER_VALUES} au plus)")
        for territory in territories:
            _check(bool(_TERRITORY_ID.match(territory)),
                   f"« {territory} » n'est pas un identifiant de territoire : attendu "
                   "ÉCHELON:CODE, par exemple EPCI:200054781, DEP:33 ou QPV:QN03301M")
        object.__setattr__(self, "territories", territories)
        if self.bbox is not None:
            _check(len(self.bbox) == 4 and all(_finite(v) for v in self.bbox),
                   f"emprise {self.bbox!r} : attendu quatre nombres (ouest, sud, est, nord)")
            west, south, east, north = (float(v) for v in self.bbox)
            _check(-180 <= west < east <= 180 and -90 <= south < north <= 90,
                   f"emprise {self.bbox!r} : attendu ouest < est entre -180 et 180 et "
                   "sud < nord entre -90 et 90 (degrés)")
            object.__setattr__(self, "bbox", (west, south, east, north))
        _check(self.sort in SORTS, f"tri inconnu « {self.sort} » : attendu un de "
                                   f"{', '.join(SORTS)}")
        if self.point is not None:
            _check(len(self.point) == 2 and all(_finite(v) for v in self.point)
                   and -180 <= self.point[0] <= 180 and -90 <= self.point[1] <= 90,
                   f"point {self.point!r} : attendu (longitude, latitude) en degrés")
            object.__setattr__(self, "point", (float(self.point[0]), float(self.point[1])))
        _check(self.sort != "proximity" or self.point is not None,
               "le tri par proximité demande un point (longitude, latitude)")
        for name in ("page", "per_page", "facet_limit"):
            value = getattr(self, name)
            _check(isinstance(value, int) and not isinstance(value, bool),
                   f"{name} vaut {value!r} : attendu un nombre entier")
        _check(self.page >= 1, f"page vaut {self.page} : les pages commencent à 1")
        _check(1 <= self.per_page <= MAX_PER_PAGE,
               f"per_page vaut {self.per_page} : attendu un nombre de résultats par page "
               f"entre 1 et {MAX_PER_PAGE}")
        _check(self.page * self.per_page <= MAX_WINDOW,
               f"page {self.page} de {self.per_page} résultats : au-delà des {MAX_WINDOW} "
               "premiers résultats, préciser la recherche")
        facets = _strings(self.facets, "facettes")
        for name in facets:
            _check(name in FACETS, f"facette inconnue « {name} » : attendu une de "
                                   f"{', '.join(FACETS)}")
        object.__setattr__(self, "facets", facets)
        _check(1 <= self.facet_limit <= MAX_FACET_LIMIT,
               f"facet_limit vaut {self.facet_limit} : attendu entre 1 et {MAX_FACET_LIMIT}")

    @property
    def offset(self) -> int:
        """Hits before this page."""
        return (self.page - 1) * self.per_page

    def parsed(self) -> ParsedText:
        """The text, read (:func:`parse_text`)."""
        return parse_text(self.text, self.as_you_type)

    @property
    def order(self) -> str:
        """The order actually used: ``relevance`` without text is ``date``."""
        if self.sort == "relevance" and self.parsed().empty:
            return "date"
        return self.sort


@dataclass(frozen=True)
class Hit:
    """One found innovation.

    Attributes
    ----------
    id, title : str
    score : float
        Relevance as the backend measures it (BM25 for tantivy, ``ts_rank`` for
        PostgreSQL): comparable within one result only.
    snippet : str
        HTML-safe excerpt of the description (or summary), matched words in ``<mark>``.
    document : dict
        The document as indexed.
    distance_km : float or None
        Great-circle distance to the query's point, when it has one and the hit a point.
    """

    id: str
    title: str
    score: float
    snippet: str
    document: dict[str, Any]
    distance_km: float | None = None


@dataclass(frozen=True)
class SearchResult:
    """What a search found.

    Attributes
    ----------
    total : int
        Hits over all pages.
    hits : list of Hit
        This page's hits.
    facets : dict of str to list of (str, int)
        Facet → (value, hits with that value), most frequent first, ties by value; counted
        over every hit of the query, filters included.
    took_ms : float
        Time the backend took.
    """

    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]]
    took_ms: float


@dataclass(frozen=True)
class Point:
    """A found innovation on a map: its id, title, place and position (WGS 84)."""

    id: str
    title: str
    lon: float
    lat: float
    place: str


def place_of(document: Mapping[str, Any]) -> str:
    """Where an innovation is, in words (« Bordeaux (33) »).

    >>> place_of({"commune_name": "Bordeaux", "departement": "33"})
    'Bordeaux (33)'
    """
    name, departement = document.get("commune_name"), document.get("departement")
    if name and departement:
        return f"{name} ({departement})"
    return name or (f"département {departement}" if departement else "lieu non renseigné")


@dataclass(frozen=True)
class SimilarHit:
    """An innovation similar to another, and the words that make it so.

    Attributes
    ----------
    id, title : str
    score : float
        Sum of the weights (tf-idf in the first document) of the shared words.
    terms : list of str
        The shared words, the weightiest first, as written in the first document.
    document : dict
    """

    id: str
    title: str
    score: float
    terms: list[str]
    document: dict[str, Any]


def sort_facet(counts: Iterable[tuple[str, int]], limit: int) -> list[tuple[str, int]]:
    """Facet values with their counts, most frequent first, ties by value, ``limit`` kept."""
    return sorted(((v, n) for v, n in counts if n > 0), key=lambda vn: (-vn[1], vn[0]))[:limit]


@dataclass(frozen=True)
class IndexedDocument:
    """A document as both backends index it (:func:`prepare_document`).

    Attributes
    ----------
    id, title : str
    body : str
        The rest of the searchable text: summary, description, porteur, commune, tags
        and taxonomy labels.
    facets : dict of str to tuple of str
        Values of each of :data:`FACETS`.
    territories : tuple of str
        The territory ids given, plus the commune, département and QPV of the document.
    commune : str or None
    lat, lon : float or None
    updated : int
        Proleptic Gregorian ordinal of the update date, 0 when unknown (sorts last).
    source : str
        The document as given, in JSON (returned with the hits).
    """

    id: str
    title: str
    body: str
    facets: dict[str, tuple[str, ...]]
    territories: tuple[str, ...]
    commune: str | None
    lat: float | None
    lon: float | None
    updated: int
    source: str


_LIST_FIELDS = ("domaines", "publics", "actions", "programmes", "sources", "tags")


def _without_nul(value: Any) -> Any:
    """``value`` with the NUL characters of its texts removed (PostgreSQL refuses them)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, Mapping):
        return {key: _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    return value


def _optional_text(document: Mapping[str, Any], name: str, where: str) -> str:
    value = document.get(name)
    if value is None:
        return ""
    _check(isinstance(value, str), f"{where} : le champ {name} doit être un texte, "
                                   f"pas {type(value).__name__}")
    return value.strip()


def prepare_document(document: Mapping[str, Any]) -> IndexedDocument:
    """Check a document and turn it into what the backends index.

    Parameters
    ----------
    document : mapping
        The fields of an entity (see the module docstring); unknown fields are kept in
        :attr:`IndexedDocument.source` only.

    Raises
    ------
    CohesionError
        A missing id, a field of the wrong type, a point out of range, a date that is
        not ISO 8601: the message names the document and the field.

    Examples
    --------
    >>> doc = prepare_document({"id": "x:1", "title": "Crèche", "departement": "33",
    ...                         "qpv": "QN03301M", "updated": "2024-05-02T10:00:00Z"})
    >>> doc.territories, doc.facets["qpv"], date.fromordinal(doc.updated)
    (('DEP:33', 'QPV:QN03301M'), ('oui',), datetime.date(2024, 5, 2))
    """
    _check(isinstance(document, Mapping), "un document à indexer doit être un dictionnaire")
    document = _without_nul(document)
    doc_id = document.get("id")
    _check(isinstance(doc_id, str) and 0 < len(doc_id.strip()) <= MAX_VALUE_CHARS,
           f"document sans identifiant valide (id = {doc_id!r})")
    doc_id = doc_id.strip()
    where = f"document {doc_id}"
    texts = {name: _optional_text(document, name, where)
             for name in ("title", "summary", "description", "porteur", "commune",
                          "commune_name", "departement", "qpv", "updated")}
    lists = {}
    for name in (*_LIST_FIELDS, "territories"):
        values = document.get(name) or ()
        _check(isinstance(values, list | tuple),
               f"{where} : le champ {name} doit être une liste de textes")
        lists[name] = _strings(values, f"{where}, champ {name}")
    lat, lon = document.get("lat"), document.get("lon")
    _check((lat is None) == (lon is None), f"{where} : lat et lon vont ensemble")
    if lat is not None:
        _check(_finite(lat) and _finite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180,
               f"{where} : point ({lon!r}, {lat!r}) hors des coordonnées WGS 84")
        lat, lon = float(lat), float(lon)
    updated = 0
    if texts["updated"]:
        try:
            updated = date.fromisoformat(texts["updated"][:10]).toordinal()
        except ValueError:
            raise CohesionError(f"{where} : date de mise à jour {texts['updated']!r} : "
                                "attendu une date ISO 8601 (AAAA-MM-JJ)") from None
    description, summary = texts["description"], texts["summary"]
    if summary and description.startswith(summary):
        summary = ""  # the summary is the description's first sentence: count it once
    body = "\n".join(part for part in (
        summary, description, texts["porteur"], texts["commune_name"],
        *(", ".join(lists[name]) for name in ("tags", "domaines", "publics", "actions")))
        if part)
    facets = {name: lists[name] for name in _LIST_FIELDS}
    facets["departement"] = (texts["departement"],) if texts["departement"] else ()
    facets["qpv"] = ("oui",) if texts["qpv"] else ("non",)
    implied = [f"{level}:{code}" for level, code in (
        ("COM", texts["commune"]), ("DEP", texts["departement"]), ("QPV", texts["qpv"]))
        if code]
    try:
        source = json.dumps(dict(document), ensure_ascii=False, default=str)
    except (TypeError, ValueError) as error:
        raise CohesionError(f"{where} : document non sérialisable en JSON ({error})") from None
    return IndexedDocument(
        id=doc_id, title=texts["title"], body=body, facets=facets,
        territories=tuple(dict.fromkeys((*lists["territories"], *implied))),
        commune=texts["commune"] or None, lat=lat, lon=lon, updated=updated, source=source)


def haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance between two WGS 84 points, in kilometres.

    Examples
    --------
    >>> round(haversine_km(2.3522, 48.8566, 4.8357, 45.7640))  # Paris to Lyon
    391
    """
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((phi2 - phi1) / 2) ** 2
         + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def snippet_html(text: str, spans: Sequence[tuple[int, int]], width: int = 220) -> str:
    """An HTML-safe excerpt of ``text`` around its matched ``spans``, each in ``<mark>``.

    The excerpt is the ``width`` characters window holding the most spans, widened to
    whole words; ``…`` marks a cut.

    Examples
    --------
    >>> snippet_html("Une <b>crèche</b> parentale", [(7, 13)])
    'Une &lt;b&gt;<mark>crèche</mark>&lt;/b&gt; parentale'
    """
    spans = sorted(spans)
    start = 0
    if len(text) > width and spans:
        best = max(range(len(spans)), key=lambda i: sum(
            1 for s, _ in spans[i:] if s < spans[i][0] + width))
        start = max(0, spans[best][0] - width // 4)
    if start:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    pieces = ["…"] if start else []
    cursor = start
    for span_start, span_end in spans:
        if span_start < cursor or span_end > end:
            continue
        pieces.append(html.escape(text[cursor:span_start], quote=False))
        pieces.append(f"<mark>{html.escape(text[span_start:span_end], quote=False)}</mark>")
        cursor = span_end
    pieces.append(html.escape(text[cursor:end], quote=False))
    if end < len(text):
        pieces.append("…")
    return " ".join("".join(pieces).split())


class SearchIndex(ABC):
    """What every search backend offers.

    Writes (:meth:`upsert`, :meth:`delete`, :meth:`rebuild`) check every document first
    and are atomic: a bad document changes nothing. Reads see the last committed write.
    """

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchResult:
        """The hits of ``query``, their count and the facet counts."""

    @abstractmethod
    def upsert(self, documents: Iterable[Mapping[str, Any]]) -> int:
        """Add documents, replacing those with the same id; return how many were written."""

    @abstractmethod
    def delete(self, ids: Iterable[str]) -> int:
        """Remove the documents with these ids (unknown ids are ignored); return how many."""

    @abstractmethod
    def rebuild(self, documents: Iterable[Mapping[str, Any]]) -> int:
        """Replace the whole content by ``documents``; return how many were written."""

    @abstractmethod
    def get(self, doc_id: str) -> dict[str, Any] | None:
        """The document with this id, as indexed, or None."""

    @abstractmethod
    def points(self, query: SearchQuery, limit: int) -> tuple[int, list[Point]]:
        """Every hit of ``query`` that has a point (at most ``limit``), for a map.

        Returns
        -------
        total : int
            Hits of the query, with or without a point.
        points : list of Point
            The hits with a point, in the query's order (its page and facets ignored).
        """

    @abstractmethod
    def similar(self, doc_id: str, k: int = 10, elsewhere: bool = True) -> list[SimilarHit]:
        """The ``k`` documents most like ``doc_id`` (more like this), explained.

        Parameters
        ----------
        doc_id : str
            A document of the index.
        k : int
            Number wanted, 1 to :data:`MAX_SIMILAR`.
        elsewhere : bool
            Leave out the documents of the same commune (essaimage: « ailleurs »).

        Raises
        ------
        NotFoundError
            No document has this id.
        """

    @abstractmethod
    def __len__(self) -> int:
        """Number of documents."""

    @abstractmethod
    def close(self) -> None:
        """Release what the index holds (connection, files)."""

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def check_similar_k(k: int) -> None:
    """Raise :class:`CohesionError` unless ``k`` is a valid number of similar documents."""
    _check(isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= MAX_SIMILAR,
           f"k vaut {k!r} : attendu un nombre d'innovations similaires entre 1 et "
           f"{MAX_SIMILAR}")


def open_index(target: str | Path, **options: Any) -> SearchIndex:
    """Open the search index at ``target``: a PostgreSQL address or a folder.

    Parameters
    ----------
    target : str or Path
        ``postgresql://…`` (or ``postgresql+psycopg://…``, the SQLAlchemy form): the
        server mode, :class:`~cohesion.innovations.search.postgres_index.PostgresIndex`;
        anything else is the folder of the embedded
        :class:`~cohesion.innovations.search.tantivy_index.TantivyIndex` (created when
        absent).
    **options
        Passed to the backend (``table=`` for PostgreSQL, ``threads=`` for tantivy…).
    """
    if isinstance(target, str) and re.match(r"^postgres(ql)?(\+\w+)?://", target):
        from cohesion.innovations.search.postgres_index import PostgresIndex

        return PostgresIndex(target, **options)
    from cohesion.innovations.search.tantivy_index import TantivyIndex

    return TantivyIndex(Path(target), **options)
