"""What the linkage model compares: normalised names, weighted words, places, identifiers.

Records of different sources spell one structure differently (``ASSOC CTRE SOCIAL LE
PERTUIS``, ``Centre social du Mireuil - Le Pertuis``); :func:`name_key` reduces both to
comparable words, and :func:`linkage_frame` turns records into the columns the model of
:mod:`cohesion.innovations.dedup._model` compares and blocks on.

Words are weighted by their rarity among the records compared together (inverse document
frequency): two projects of one commune share ``rénovation de l'école`` but differ by the
name of the school, and only the rare words tell them apart.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from cohesion.errors import CohesionError
from cohesion.innovations.records import Record, canonical_url, fold

#: Words that carry no identity: articles, prepositions, and the legal form of a structure
#: (``ASSOC``, ``ASS.`` and ``Association`` name one association).
STOP_WORDS = frozenset({
    "a", "au", "aux", "avec", "d", "dans", "de", "des", "du", "en", "et", "l", "la", "le",
    "les", "par", "pour", "sa", "ses", "son", "sur", "un", "une",
    "ass", "asso", "assoc", "assos", "association", "associations"})

#: Ligatures that Unicode does not decompose (``fold`` would drop them).
LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE"})

#: Abbreviations of the national registers (SIRENE, RNA) and their word.
ABBREVIATIONS = {
    "ctre": "centre", "st": "saint", "ste": "sainte", "gd": "grand", "gde": "grande",
    "fed": "federation", "fede": "federation", "nle": "nationale", "nat": "nationale",
    "educ": "education", "cult": "culturel", "soc": "social", "intercult": "interculturel",
}

#: Hosts shared by unrelated pages: a page there tells nothing about its owner's site.
SHARED_HOSTS = frozenset({
    "facebook.com", "fr-fr.facebook.com", "m.facebook.com", "instagram.com", "twitter.com",
    "x.com", "linkedin.com", "youtube.com", "google.com", "google.fr", "sites.google.com",
    "helloasso.com", "wordpress.com", "blogspot.com", "over-blog.com", "wixsite.com",
})

#: Columns of a frame of records that :func:`linkage_frame` reads (others are ignored).
RECORD_COLUMNS = ("id", "source", "title", "description", "porteur", "siret", "siren",
                  "commune", "departement", "url", "lat", "lon")

#: Columns of :func:`linkage_frame`.
LINKAGE_COLUMNS = (
    "unique_id", "source", "title_key", "title_tokens", "title_weights", "title_weight",
    "title_unusual", "title_prefix", "title_rare", "description_tokens",
    "description_weights", "description_weight", "description_template", "porteur_key",
    "siren", "siret", "url", "host", "lat", "lon", "commune", "departement", "cell")

#: Description words shared as a whole by this many records are a template (``AMAP
#: (Association pour le Maintien d'une Agriculture Paysanne)``), not an identity.
TEMPLATE_COUNT = 3

#: Words of a description compared at most (the beginning says what the project is).
DESCRIPTION_WORDS = 60

#: Characters of a description read to find them.
DESCRIPTION_CHARACTERS = 2000

#: A description word used by more than this share of the descriptions is not compared.
COMMON_SHARE = 0.05

#: A title word shared by more records than this is too common to block on.
RARE_WORD_COUNT = 30

#: Rare title words a record is blocked on.
RARE_WORDS = 2

#: A title borne by more records than this (« Éclairage public ») is not blocked on
#: across the whole country: only within a commune or a département.
USUAL_TITLE_COUNT = 5


def _stem(word: str) -> str:
    """``word`` without its French plural and feminine endings (for comparison only).

    >>> [_stem(w) for w in ("sociaux", "sociale", "centres", "contacts", "culturelle", "450000")]
    ['social', 'social', 'centr', 'contact', 'culturel', '450000']
    """
    if any(c.isdigit() for c in word):
        return word
    if len(word) > 4 and word.endswith("aux"):
        word = word[:-3] + "al"
    elif len(word) > 3 and word[-1] in "sx":
        word = word[:-1]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 4 and word[-1] == word[-2]:
        word = word[:-1]
    return word


def words(text: str | None) -> list[str]:
    """The identifying words of ``text``, folded, stemmed, each once, in order.

    Initials written apart are joined (``C.C.O.`` is ``cco``), abbreviations expanded,
    stop words and legal forms dropped.

    Examples
    --------
    >>> words("ASSOC CTRE SOCIALE ÉCLATÉ")
    ['centr', 'social', 'eclat']
    >>> words("C.C.O. (Centre culturel œcuménique)")
    ['cco', 'centr', 'culturel', 'oecumeniqu']
    >>> words("Coût total de 1 321 739 €")
    ['cout', 'total', '1321739']
    """
    # an amount written in groups of three digits is one number: « 1 321 739 »
    return _folded_words(_fold(text))


def _fold(text: str | None) -> str:
    """``text`` folded (:func:`~cohesion.innovations.records.fold`), ligatures spelled out."""
    return fold((text or "").translate(LIGATURES))


def _folded_words(folded: str) -> list[str]:
    """:func:`words` of a text already folded."""
    tokens = re.sub(r"(?<=\d) (?=\d{3}\b)", "", folded).split()
    joined: list[str] = []
    initials: list[str] = []
    for token in [*tokens, ""]:
        if len(token) == 1 and not token.isdigit():
            initials.append(token)
            continue
        if initials:
            joined.append("".join(initials))
            initials = []
        if token:
            joined.append(token)
    seen: list[str] = []
    for token in joined:
        token = ABBREVIATIONS.get(token, token)
        if token in STOP_WORDS:
            continue
        token = _stem(token)
        if token not in seen:
            seen.append(token)
    return seen


def name_key(text: str | None) -> str | None:
    """The comparison key of a name or title: its :func:`words`, or None when it has none.

    Examples
    --------
    >>> name_key("ASSOC CTRE SOCIAL LE PERTUIS") == name_key("Centre social - Le Pertuis")
    True
    >>> name_key("Mises en scènes") == name_key("ASSOCIATION MISES EN SCENE")
    True
    >>> print(name_key("L'Association"))
    None
    """
    found = words(text)
    return " ".join(found) if found else None


def web_host(url: str | None) -> str | None:
    """The host of ``url`` when it names a site of its own, else None.

    >>> web_host("https://www.lesvelosdesetangs.wordpress.com/contact")
    'lesvelosdesetangs.wordpress.com'
    >>> print(web_host("https://fr-fr.facebook.com/AVSF.ONG"))
    None
    """
    if not url:
        return None
    host = (re.match(r"^[a-z]+://([^/:?#]*)", canonical_url(url)) or [None, ""])[1]
    return host if "." in host and host not in SHARED_HOSTS else None


def _counts(documents: Iterable[Sequence[str] | None]) -> Counter[str]:
    """In how many documents each word appears."""
    return Counter(word for doc in documents if doc for word in doc)


def _idf(counts: Counter[str], total: int) -> dict[str, float]:
    """Weight of each word: ``log(1 + n / df)`` over ``n`` documents."""
    return {word: math.log(1 + total / count) for word, count in counts.items()}


def _weighted(tokens: list[str] | None, idf: dict[str, float]
              ) -> tuple[list[str] | None, list[float] | None, float | None]:
    if not tokens:
        return None, None, None
    weights = [round(idf[token], 6) for token in tokens]
    return tokens, weights, round(sum(weights), 6)


def _rare(title: list[str] | None, counts: Counter[str]) -> list[str] | None:
    """The two rarest words of a title, among those rare enough to block on.

    Two, because an acronym added to a name (``ADESA - Espace Guy Bedos``) is rarer
    than the name's own rarest word.
    """
    rare = sorted((w for w in title or () if counts[w] <= RARE_WORD_COUNT),
                  key=lambda w: (counts[w], w))[:RARE_WORDS]
    return rare or None


def _frame(records: Sequence[Record] | pd.DataFrame) -> pd.DataFrame:
    """The record fields the model reads, as a frame with one row per record."""
    if isinstance(records, pd.DataFrame):
        missing = [c for c in ("id", "title") if c not in records.columns]
        if missing:
            raise CohesionError("fiches à rapprocher : colonnes absentes "
                                f"({', '.join(missing)}) ; attendu les champs d'une fiche "
                                f"({', '.join(RECORD_COLUMNS)})")
        frame = records.reindex(columns=list(RECORD_COLUMNS))
    else:
        frame = pd.DataFrame([{c: getattr(r, c) for c in RECORD_COLUMNS} for r in records],
                             columns=list(RECORD_COLUMNS))
    frame = frame.astype(object).where(frame.notna(), None)
    doubles = sorted(frame["id"][frame["id"].duplicated()].unique())
    if doubles:
        shown = ", ".join(doubles[:5]) + ("…" if len(doubles) > 5 else "")
        raise CohesionError(f"fiches à rapprocher : identifiants en double ({shown}) ; "
                            "chaque fiche n'y figure qu'une fois")
    return frame


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def linkage_frame(records: Sequence[Record] | pd.DataFrame) -> pd.DataFrame:
    """The columns the linkage model compares and blocks on, one row per record.

    Parameters
    ----------
    records : sequence of Record or DataFrame
        Records, or a frame with (some of) their fields as columns (``id`` and ``title``
        required; see :data:`RECORD_COLUMNS`).

    Returns
    -------
    DataFrame
        ``unique_id``, ``source``; the title as ``title_key`` (:func:`name_key`) and its
        words with their weights (``title_tokens``, ``title_weights``, ``title_weight``)
        and blocking keys (``title_unusual``: the key of a title few records bear,
        ``title_prefix``: its first two words, ``title_rare``: its two rarest words); the
        words the description adds to the title and the porteur (``description_tokens``,
        ``description_weights``, ``description_weight``) and, when several records have
        the same, the number of that template (``description_template``);
        ``porteur_key`` when the record is a project carried by someone else; ``siren``
        and ``siret`` when the record is the structure itself; ``url``, ``host``
        (:func:`web_host`), ``lat``, ``lon``, ``commune``, ``departement`` and ``cell``
        (the point rounded to about 100 m, for blocking).

    Raises
    ------
    CohesionError
        When an id appears twice, or a frame lacks the ``id`` or ``title`` column.
    """
    frame = _frame(records)
    heads = [_fold(_text(t)) for t in frame["title"]]
    titles = [_folded_words(head) or None for head in heads]
    porteurs: dict[str, list[str]] = {}
    for porteur in frame["porteur"]:
        if _text(porteur) not in porteurs:
            porteurs[_text(porteur)] = words(_text(porteur))
    remainders = []
    for head, description in zip(heads, frame["description"], strict=True):
        folded = _fold(_text(description)[:DESCRIPTION_CHARACTERS])
        # a description that begins with the title would count the title twice
        remainders.append(folded[len(head):] if head and folded.startswith(head) else folded)
    # the words of the title and of the porteur are compared on their own: the
    # description counts only what it adds (a funding sentence naming the commune
    # would otherwise repeat the place)
    known = [set(title or ()) | set(porteurs[_text(porteur)])
             for title, porteur in zip(titles, frame["porteur"], strict=True)]
    added = [tuple(w for w in _folded_words(r) if w not in seen)[:DESCRIPTION_WORDS]
             for r, seen in zip(remainders, known, strict=True)]
    # what several records say word for word is a template: the same funding sentence of
    # a standard grant to several communes, the same blurb of a network's groups
    templates = {said: f"{number}" for number, (said, count) in enumerate(sorted(
        Counter(a for a in added if a).items())) if count >= TEMPLATE_COUNT}
    title_counts, description_counts = _counts(titles), _counts(added)
    described = sum(1 for a in added if a)
    # a word most descriptions use (« subvention », « 2019 ») weighs next to nothing and
    # costs as much as any to compare
    common = {w for w, count in description_counts.items()
              if count > COMMON_SHARE * described}
    descriptions = [[w for w in said if w not in common] or None for said in added]
    key_counts = Counter(" ".join(title) for title in titles if title)
    title_idf = _idf(title_counts, sum(1 for t in titles if t))
    description_idf = _idf(description_counts, described)
    rows = []
    for index, record in enumerate(frame.itertuples(index=False)):
        title = titles[index]
        porteur = " ".join(porteurs[_text(record.porteur)]) or None
        key = " ".join(title) if title else None
        # the record is the structure itself (no porteur, or the porteur is its name):
        # its SIREN identifies it; a project only shares its porteur's SIREN
        structure = porteur is None or porteur == key
        tokens, weights, total = _weighted(title, title_idf)
        d_tokens, d_weights, d_total = _weighted(descriptions[index], description_idf)
        url = canonical_url(record.url) if _text(record.url) else None
        lat = float(record.lat) if record.lat is not None else None
        lon = float(record.lon) if record.lon is not None else None
        rows.append({
            "unique_id": str(record.id), "source": record.source,
            "title_key": key, "title_tokens": tokens, "title_weights": weights,
            "title_weight": total,
            "title_unusual": key if key and key_counts[key] <= USUAL_TITLE_COUNT else None,
            "title_prefix": " ".join(title[:2]) if title else None,
            "title_rare": _rare(title, title_counts),
            "description_tokens": d_tokens, "description_weights": d_weights,
            "description_weight": d_total,
            "description_template": templates.get(added[index]),
            "porteur_key": None if structure else porteur,
            "siren": _text(record.siren) or None if structure else None,
            "siret": _text(record.siret) or None if structure else None,
            "url": url, "host": web_host(url), "lat": lat, "lon": lon,
            "commune": _text(record.commune) or None,
            "departement": _text(record.departement) or None,
            "cell": f"{lat:.3f}:{lon:.3f}" if lat is not None and lon is not None else None,
        })
    return pd.DataFrame(rows, columns=list(LINKAGE_COLUMNS))
