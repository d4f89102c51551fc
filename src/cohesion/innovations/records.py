"""A local social innovation as the Carrefour keeps it: one :class:`Record` per source entry.

Every connector turns its source's entries into records; the relational store keeps them
(upserted by :attr:`Record.id`), deduplication groups records of several sources into
entities, the search index holds them. This module is the contract between those parts.

Stable ids
----------
A record's id never changes from one harvest to the next: it is the source's slug and
the source's own key (``transiscope:…``), or, when the source has no key, a hash of the
entry's canonical URL (:func:`canonical_url`), or of its title and commune as a last
resort (:func:`stable_id`). The 2018 build deleted and re-inserted everything at each
crawl, so its ids changed; ours do not.

Examples
--------
>>> canonical_url("HTTPS://www.Example.org:443/projet/?utm_source=x&b=2&a=1#haut")
'https://example.org/projet?a=1&b=2'
>>> stable_id("dotations-2019", "19-0012")
'dotations-2019:19-0012'
>>> stable_id("rss-demo", None, url="https://example.org/projet/")
'rss-demo:url:e4b8deeaf3f78f30'
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: The states of a record. Harvested records are ``published``; a contribution is
#: ``pending`` until a moderator publishes it; reports past the threshold make it
#: ``hidden`` pending review; a harvested record no longer in its source is ``gone``
#: (kept, with its id, so that a source's hiccup loses nothing).
STATUSES = ("published", "pending", "hidden", "gone", "rejected")

#: Query parameters that only track visits: dropped from canonical URLs.
_TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|mc_cid|mc_eid|xtor|at_.*)$")


def canonical_url(url: str) -> str:
    """``url`` without what does not name the page.

    Scheme and host lower-cased; ``www.``, the default port, the fragment, tracking
    parameters and the trailing slash removed; parameters sorted.
    """
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower().removeprefix("www.")
    default_port = {"http": 80, "https": 443}.get(scheme)
    if parts.port and parts.port != default_port:
        host = f"{host}:{parts.port}"
    path = re.sub(r"/+$", "", parts.path) or ""
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not _TRACKING.match(k)))
    return urlunsplit((scheme, host, path, query, ""))


def fold(text: str) -> str:
    """Lower case, accents and punctuation removed, spaces collapsed (for keys and blocking).

    >>> fold("  L'Épicerie   solidaire — Saint-Étienne ")
    'l epicerie solidaire saint etienne'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", bare).split())


def _digest(text: str, length: int = 16) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def stable_id(source: str, key: str | None, url: str | None = None,
              title: str | None = None, commune: str | None = None) -> str:
    """The id of a record of ``source``: its own ``key``, else its URL, else title+commune.

    Raises
    ------
    ValueError
        When none of them is given: such an entry cannot keep an id across harvests.
    """
    if key is not None and str(key).strip():
        return f"{source}:{str(key).strip()}"
    if url:
        return f"{source}:url:{_digest(canonical_url(url))}"
    if title:
        return f"{source}:titre:{_digest(fold(title) + '|' + (commune or ''))}"
    raise ValueError(f"{source} : une entrée sans clé, sans adresse web et sans titre n'a "
                     "pas d'identifiant stable")


@dataclass
class Record:
    """One entry of one source, normalised.

    Attributes
    ----------
    id : str
        Stable id (:func:`stable_id`).
    source : str
        Slug of the source (its connector's name), e.g. ``transiscope``.
    source_key : str
        The source's own key of the entry (or the digest the id was made from).
    title, summary, description : str
        What the innovation is. ``summary`` is a short text (≤ 300 characters; the
        description's first sentence when the source has none). Plain text only:
        connectors strip HTML.
    porteur : str or None
        The structure that carries the project.
    siret, siren : str or None
        14 and 9 digits, when the source gives them (``siren`` derived from ``siret``).
    address, postcode : str or None
    commune : str or None
        INSEE code of the commune (from the source, from postcode + name, or from the
        point through the référentiel).
    commune_name, departement : str or None
    lat, lon : float or None
        WGS 84.
    qpv : str or None
        Code of the QPV the point lies in (QPV locating core), None outside QPV or
        without a point.
    territories : list of str
        Territory ids (``LEVEL:CODE``, e.g. ``EPCI:200054781``) the project concerns.
    domaines, publics, actions : list of str
        Taxonomy facets of the Carrefour (the source tags mapped, :attr:`tags` kept).
    programme : str or None
        Programme or dispositif (``DETR``, ``adultes-relais``…).
    tags : list of str
        The source's own tags, unmapped.
    url : str or None
        The project's own web site.
    source_url : str
        Where the entry was read (file address or page).
    licence : str
        Licence of the source (``ODbL``, ``Licence Ouverte 2.0``…).
    first_seen, last_seen, updated : str
        ISO 8601 UTC instants: first harvest that saw the entry, last one, last change.
    status : str
        One of :data:`STATUSES`.
    raw : dict
        The entry as the source gave it (JSON-serialisable).
    """

    id: str
    source: str
    source_key: str
    title: str
    summary: str = ""
    description: str = ""
    porteur: str | None = None
    siret: str | None = None
    siren: str | None = None
    address: str | None = None
    postcode: str | None = None
    commune: str | None = None
    commune_name: str | None = None
    departement: str | None = None
    lat: float | None = None
    lon: float | None = None
    qpv: str | None = None
    territories: list[str] = field(default_factory=list)
    domaines: list[str] = field(default_factory=list)
    publics: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    programme: str | None = None
    tags: list[str] = field(default_factory=list)
    url: str | None = None
    source_url: str = ""
    licence: str = ""
    first_seen: str = ""
    last_seen: str = ""
    updated: str = ""
    status: str = "published"
    raw: dict[str, Any] = field(default_factory=dict)

    #: Fields that say when and how the record was seen, not what it says.
    BOOKKEEPING = ("first_seen", "last_seen", "updated", "status")

    def as_dict(self) -> dict[str, Any]:
        """Every field, as plain JSON-serialisable values."""
        return asdict(self)

    def content_hash(self) -> str:
        """Digest of what the record says, bookkeeping excluded.

        A harvest compares it to tell ``updated`` from ``unchanged``.
        """
        content = {k: v for k, v in self.as_dict().items() if k not in self.BOOKKEEPING}
        return _digest(json.dumps(content, sort_keys=True, ensure_ascii=False,
                                  default=str), 40)

    def document(self) -> dict[str, Any]:
        """What the search index holds of the record (no raw payload)."""
        return {k: v for k, v in self.as_dict().items() if k != "raw"}


@dataclass(frozen=True)
class RowFailure:
    """An entry a connector could not turn into a record, and why (in French).

    ``where`` names the place as a user finds it: ``fichier.csv, ligne 12`` or a page
    address.
    """

    where: str
    reason: str


@dataclass
class Harvest:
    """What one run of one connector read: its records and the entries it refused.

    Attributes
    ----------
    source : str
        The connector's slug.
    records : list of Record
        Entries read, normalised (bookkeeping dates left empty: the store sets them).
    failures : list of RowFailure
        Entries refused, with their reason; never dropped silently.
    fetched : list of str
        Addresses (or paths) read.
    started, finished : str
        ISO 8601 UTC instants of the run.
    error : str or None
        Why the whole run failed (source unreachable, layout changed…), None when it ran.
    """

    source: str
    records: list[Record] = field(default_factory=list)
    failures: list[RowFailure] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    started: str = ""
    finished: str = ""
    error: str | None = None
