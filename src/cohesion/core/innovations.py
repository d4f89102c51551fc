"""The Carrefour des innovations sociales as one service for the CLI, the web and Python.

:class:`CarrefourService` (``observatory.innovations``) holds the Carrefour's relational
store (:class:`~cohesion.innovations.store.CarrefourStore`, at ``settings.carrefour``),
its accounts and moderation services, and its search index (at
``settings.carrefour_index``). Every interface calls it, so that a harvest, a search or
a moderation decision is the same wherever it is asked:

- :meth:`CarrefourService.harvest`: run connectors, apply each run to the store
  (upserts by stable id, run report, health alert), then deduplicate and refresh the
  index;
- :meth:`CarrefourService.dedupe`: link the records of every source into entities with
  stable ids (reviewers' decisions win), queue the uncertain pairs;
- :meth:`CarrefourService.reindex`: one search document per entity, merged from its
  published records;
- :meth:`CarrefourService.search`, :meth:`CarrefourService.project`: what the pages
  and the API show.

The store is migrated when first opened by the service: a new installation needs no
separate step.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cohesion.errors import NotFoundError
from cohesion.innovations import dedup
from cohesion.innovations.accounts import Accounts
from cohesion.innovations.harvest import HarvestRun, harvest
from cohesion.innovations.matching import Match, rank_supporters
from cohesion.innovations.moderation import Moderation
from cohesion.innovations.normalise import Normaliser
from cohesion.innovations.records import Record
from cohesion.innovations.search import (
    SearchIndex,
    SearchQuery,
    SearchResult,
    SimilarHit,
    open_index,
)
from cohesion.innovations.store import Account, CarrefourStore, MergeEvent, Proposal, RunReport

if TYPE_CHECKING:
    from cohesion.core.observatory import Observatory

#: The sources shipped with Cohésion, harvested by ``cohesion innovations harvest``
#: when none is named.
SHIPPED_SOURCES = ("transiscope", "dotations-2019", "postes-politique-ville")
#: Statuses of the records that make an entity's search document.
SEARCHABLE = ("published",)
#: Fields merged as lists across an entity's records (union, in order of appearance).
_LIST_FIELDS = ("territories", "domaines", "publics", "actions", "tags")
#: Fields taken from the first record that has them (the entity's best record first).
_SCALAR_FIELDS = ("summary", "description", "porteur", "siret", "siren", "address",
                  "postcode", "commune", "commune_name", "departement", "lat", "lon", "qpv",
                  "url")

Progress = Callable[[str, int, int], None]


@dataclass
class HarvestOutcome:
    """What ``cohesion innovations harvest`` did: one report per source, then the links.

    Attributes
    ----------
    reports : list of (HarvestRun, RunReport)
        Each run as the connector read it, and as the store applied it.
    linkage : LinkageOutcome or None
        The deduplication that followed (None when no record changed).
    indexed : int
        Documents written to the search index.
    """

    reports: list[tuple[HarvestRun, RunReport]] = field(default_factory=list)
    linkage: LinkageOutcome | None = None
    indexed: int = 0


@dataclass
class LinkageOutcome:
    """A deduplication run: pairs scored, links made, pairs queued, entities changed."""

    records: int
    pairs: int
    links: int
    queued: int
    moved: int
    events: dict[str, int]


@dataclass
class Project:
    """What an innovation's page shows.

    Attributes
    ----------
    document : dict
        The entity's search document (merged from its records).
    records : list of Record
        Its published records, one per source entry: the provenance.
    supporters : list of Match
        Accompagnants whose territory and domaines fit, best first, with reasons.
    similar : list of SimilarHit
        Similar innovations elsewhere, with the words they share.
    """

    document: dict[str, Any]
    records: list[Record]
    supporters: list[Match]
    similar: list[SimilarHit]


def best_first(records: Sequence[Record]) -> list[Record]:
    """An entity's records, the one that speaks for it first.

    A contribution (written for the Carrefour) first, then the longest description,
    then the most recent update; the id breaks ties so the order is stable.
    """
    return sorted(records, key=lambda r: (r.source != "contribution", -len(r.description or ""),
                                          _negated(r.updated), r.id))


def _negated(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def entity_document(entity_id: str, records: Sequence[Record],
                    parents: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """The search document of an entity, merged from its (published) records.

    Scalars come from the best record that has them (:func:`best_first`); lists are the
    union of the records' lists; ``programmes`` and ``sources`` list every record's;
    ``updated`` is the latest. ``territories`` add, to the records' own, the commune,
    its QPV and the territories that contain the commune (``parents``: commune code →
    territory ids of its EPCI, département, région, zonings…).

    Examples
    --------
    >>> a = Record("s:1", "s", "1", "Épicerie solidaire", commune="33063", updated="2024")
    >>> b = Record("t:9", "t", "9", "Epicerie solidaire de Bordeaux",
    ...            description="Une épicerie.", programme="DSIL", updated="2025")
    >>> document = entity_document("E1", [a, b], {"33063": ["DEP:33"]})
    >>> document["title"], document["commune"], document["programmes"], document["territories"]
    ('Epicerie solidaire de Bordeaux', '33063', ['DSIL'], ['COM:33063', 'DEP:33'])
    """
    ordered = best_first(records)
    best = ordered[0]
    document: dict[str, Any] = {"id": entity_id, "title": best.title}
    for name in _SCALAR_FIELDS:
        document[name] = next((getattr(r, name) for r in ordered
                               if getattr(r, name) not in (None, "")), None)
    for name in _LIST_FIELDS:
        document[name] = list(dict.fromkeys(itertools.chain.from_iterable(
            getattr(r, name) for r in ordered)))
    commune, qpv = document["commune"], document["qpv"]
    places = ([f"COM:{commune}"] if commune else []) + ([f"QPV:{qpv}"] if qpv else [])
    places += list((parents or {}).get(commune, ())) if commune else []
    document["territories"] = list(dict.fromkeys(document["territories"] + places))
    document["programmes"] = list(dict.fromkeys(r.programme for r in ordered if r.programme))
    document["sources"] = list(dict.fromkeys(r.source for r in ordered))
    document["updated"] = max((r.updated for r in ordered), default="")[:10]
    document["summary"] = document["summary"] or ""
    document["description"] = document["description"] or ""
    return document


class CarrefourService:
    """The Carrefour of an observatory: its store, accounts, moderation and index.

    Parameters
    ----------
    observatory : Observatory
        Gives the settings (store and index addresses) and the référentiel and QPV
        locating core used to place records.
    """

    def __init__(self, observatory: Observatory) -> None:
        self.observatory = observatory
        self.settings = observatory.settings

    @cached_property
    def store(self) -> CarrefourStore:
        """The relational store, migrated to the current schema."""
        store = CarrefourStore(self.settings.carrefour)
        store.migrate()
        return store

    @cached_property
    def accounts(self) -> Accounts:
        """Accounts, sign-ins and sessions."""
        return Accounts(self.store)

    @cached_property
    def moderation(self) -> Moderation:
        """Contributions, proposals, reports and their moderation."""
        return Moderation(self.store)

    @cached_property
    def index(self) -> SearchIndex:
        """The search index: embedded (a folder) or PostgreSQL (server mode)."""
        return open_index(self.settings.carrefour_index)

    def close(self) -> None:
        """Close the store and the index if they were opened."""
        if "index" in self.__dict__:
            self.index.close()
        if "store" in self.__dict__:
            self.store.close()

    # -- harvesting, linking, indexing --------------------------------------------------

    def harvest(self, sources: Sequence[str | Path], root: str | Path,
                progress: Progress | None = None) -> HarvestOutcome:
        """Harvest ``sources`` under the data ``root``, then link and index the records.

        Each source is one run applied to the store in one transaction (a failed or
        alarming run changes nothing already published: see
        :meth:`CarrefourStore.apply_harvest`). When any record changed, the records of
        every source are linked again (:meth:`dedupe`) and the index rebuilt
        (:meth:`reindex`).

        Parameters
        ----------
        sources : sequence of str or Path
            Shipped source names (:data:`SHIPPED_SOURCES`) or connector YAML files.
        root : str or Path
            The folder or base address the connectors' locations are relative to.
        progress : callable, optional
            ``progress(step, done, total)``.
        """
        outcome = HarvestOutcome()
        normaliser = Normaliser(self.observatory)
        for source in sources:
            run = harvest(source, root, normaliser, progress)
            outcome.reports.append((run, self.store.apply_harvest(run)))
        if any(report.new or report.updated or report.gone for _, report in outcome.reports):
            outcome.linkage = self.dedupe(progress)
            outcome.indexed = self.reindex(progress)
        return outcome

    def dedupe(self, progress: Progress | None = None) -> LinkageOutcome:
        """Link the published records of every source into entities with stable ids.

        The model scores candidate pairs; reviewers' decisions win over it; uncertain
        pairs go to the review queue; entities keep their ids across runs
        (:mod:`cohesion.innovations.dedup`). The new mapping and its history are saved
        in one transaction.
        """
        records = list(self.store.records(statuses=(*SEARCHABLE, "pending", "hidden")))
        if progress:
            progress("dédoublonnage", 0, len(records))
        pairs = dedup.candidate_pairs(records)
        decisions = self.store.decisions()
        matches, uncertain = dedup.decide(pairs, decisions)
        apart = [pair for pair, decision in decisions.items() if decision == "different"]
        mapping, events = dedup.assign_entities(
            self.store.entity_mapping(), matches, [r.id for r in records], _entity_id,
            apart=apart)
        moved = self.store.save_entity_mapping(mapping, [_merge_event(e) for e in events])
        queued = self.store.queue_pairs(
            (row.record_a, row.record_b, float(row.probability))
            for row in uncertain.itertuples())
        if progress:
            progress("dédoublonnage", len(records), len(records))
        kinds: dict[str, int] = defaultdict(int)
        for event in events:
            kinds[event.kind] += 1
        return LinkageOutcome(len(records), len(pairs), len(matches), queued, moved,
                              dict(kinds))

    def reindex(self, progress: Progress | None = None) -> int:
        """Rebuild the search index: one document per entity with a published record."""
        documents = list(self._documents())
        if progress:
            progress("indexation", 0, len(documents))
        written = self.index.rebuild(documents)
        if progress:
            progress("indexation", len(documents), len(documents))
        return written

    def _documents(self, only: set[str] | None = None) -> Iterable[dict[str, Any]]:
        """Documents of the entities (of ``only`` if given) that have published records."""
        mapping = self.store.entity_mapping()
        grouped: dict[str, list[Record]] = defaultdict(list)
        for record in self.store.records(statuses=SEARCHABLE):
            entity = mapping.get(record.id, record.id)
            if only is None or entity in only:
                grouped[entity].append(record)
        parents = self._parents({r.commune for rs in grouped.values() for r in rs
                                 if r.commune})
        for entity, records in grouped.items():
            yield entity_document(entity, records, parents)

    def _parents(self, communes: set[str]) -> dict[str, list[str]]:
        """Territory ids containing each commune (EPCI, département, région, zonings)."""
        if not communes:
            return {}
        frame = self.observatory.reader().memberships(
            "COM", self.observatory.latest_vintage(), codes=sorted(communes))
        parents: dict[str, list[str]] = defaultdict(list)
        for code, level, parent in frame.itertuples(index=False):
            parents[code].append(f"{level}:{parent}")
        return parents

    # -- reading: search, map, project -----------------------------------------------

    def search(self, query: SearchQuery) -> SearchResult:
        """The innovations matching ``query`` (one hit per entity), with facet counts."""
        return self.index.search(query)

    def points(self, query: SearchQuery, limit: int) -> dict[str, Any]:
        """The innovations ``query`` finds that have a point, as GeoJSON for a map.

        The collection also says how many innovations were found in all (``total``) and
        the extent of the points (``bounds``, None without any).
        """
        total, points = self.index.points(query, limit)
        features = [{"type": "Feature", "id": i,
                     "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
                     "properties": {"id": p.id, "title": p.title, "place": p.place}}
                    for i, p in enumerate(points)]
        bounds = None
        if points:
            lons, lats = [p.lon for p in points], [p.lat for p in points]
            bounds = [min(lons), min(lats), max(lons), max(lats)]
        return {"type": "FeatureCollection", "total": total, "bounds": bounds,
                "features": features}

    def project(self, entity_id: str, similar: int = 5) -> Project:
        """An innovation's page: its document, its records, supporters, similar ones.

        Raises
        ------
        NotFoundError
            When no published innovation has that id.
        """
        document = self.index.get(entity_id)
        if document is None:
            raise NotFoundError(f"aucune innovation publiée « {entity_id} »")
        records = [r for r in self.store.entity_records(entity_id) if r.status in SEARCHABLE]
        # the document's territories hold those containing its commune (EPCI, région,
        # zonings): a supporter of the région fits
        best = replace(best_first(records)[0], territories=document["territories"]) \
            if records else None
        supporters = rank_supporters(best, self.store.profiles("accompagnant")) if best \
            else []
        return Project(document, records, supporters,
                       self.index.similar(entity_id, similar) if similar else [])

    def _changed(self, record: Record) -> Record:
        """Bring the index up to date with one record a moderator changed."""
        mapping = self.store.entity_mapping()
        entity = mapping.get(record.id)
        if entity is None:
            entity = _entity_id()
            self.store.save_entity_mapping(
                {record.id: entity}, [MergeEvent("created", (entity,), (record.id,))])
        documents = list(self._documents({entity}))
        if documents:
            self.index.upsert(documents)
        else:
            self.index.delete([entity])
        return record

    # -- what changes what is searchable: moderation, then the index ------------------

    def submit(self, author: Account, fields: Mapping[str, object]) -> Record:
        """A contribution, pending until a moderator publishes it."""
        return self.moderation.submit(author, fields)

    def publish(self, moderator: Account, record_id: str) -> Record:
        """Publish a pending contribution: it becomes searchable."""
        return self._changed(self.moderation.publish(moderator, record_id))

    def reject(self, moderator: Account, record_id: str, reason: str) -> Record:
        """Refuse a pending contribution, with the reason its author will read."""
        return self.moderation.reject(moderator, record_id, reason)

    def propose_edit(self, author: Account, record_id: str,
                     fields: Mapping[str, object]) -> Proposal:
        """Propose a change to a published record (applied once a moderator accepts)."""
        return self.moderation.propose_edit(author, record_id, fields)

    def accept_proposal(self, moderator: Account, proposal_id: int) -> Record:
        """Apply a proposal to its record."""
        return self._changed(self.moderation.accept_proposal(moderator, proposal_id))

    def reject_proposal(self, moderator: Account, proposal_id: int, reason: str) -> Proposal:
        """Refuse a proposal."""
        return self.moderation.reject_proposal(moderator, proposal_id, reason)

    def report(self, reporter: Account, record_id: str, reason: str) -> Record:
        """Report a record; past the threshold of reporters it is hidden pending review."""
        return self._changed(self.moderation.report(reporter, record_id, reason))

    def restore(self, moderator: Account, record_id: str) -> Record:
        """Publish again a record hidden by reports."""
        return self._changed(self.moderation.restore(moderator, record_id))

    def remove(self, moderator: Account, record_id: str, reason: str) -> Record:
        """Remove a reported record."""
        return self._changed(self.moderation.remove(moderator, record_id, reason))

    def decide_pair(self, reviewer: Account, first: str, second: str, decision: str) -> None:
        """A reviewer's decision on two records (``same`` or ``different``).

        It wins over the model, and the entities are linked again at once.
        """
        self.moderation.decide_pair(reviewer, first, second, decision)
        self.dedupe()


def _entity_id() -> str:
    """A new entity id, ordered by creation (deduplication keeps the oldest id)."""
    return f"E{time.time_ns():016x}{secrets.token_hex(3)}"


def _merge_event(event: dedup.EntityEvent) -> MergeEvent:
    """The store's history entry of a deduplication event."""
    entities = (event.entity,) if event.origin is None else (event.entity, event.origin)
    if event.kind == "split":
        entities = (event.origin or event.entity, event.entity)
    return MergeEvent(event.kind, entities, event.records,
                      reviewer_id=None, note="modèle et décisions des relecteurs")
