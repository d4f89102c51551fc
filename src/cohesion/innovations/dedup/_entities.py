"""From scored pairs to entities: reviewers' decisions, the review queue, stable entity ids.

:func:`decide` applies the reviewers' decisions over the model and picks the pairs a
reviewer should look at; :func:`assign_entities` groups the linked records into entities
and keeps each entity's id from one run to the next, telling what changed (the history
of merges and splits). Both are pure: the relational store keeps the decisions, the
entity table and its history, and calls them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from cohesion.errors import CohesionError

#: Decisions a reviewer can take on a pair.
DECISIONS = ("same", "different")

#: Probability from which the model links two records by itself.
MATCH_THRESHOLD = 0.8

#: Probabilities ``[low, high)`` of the pairs sent to the review queue: below ``low`` the
#: model is sure enough they differ, from ``high`` that they are one entity. The band holds
#: :data:`MATCH_THRESHOLD`: the pairs just above it are linked until a reviewer says
#: otherwise.
REVIEW_BAND = (0.5, 0.95)

#: Kinds of :class:`EntityEvent`, in the order a history lists them.
EVENT_KINDS = ("created", "merged", "split", "joined")


@dataclass(frozen=True, order=True)
class Link:
    """Two records found to be one entity.

    Attributes
    ----------
    record_a, record_b : str
        Record ids, ``record_a < record_b``.
    probability : float
        The model's match probability (1 for a reviewer's decision).
    by : str
        ``reviewer`` (a decision) or ``model``.
    """

    record_a: str
    record_b: str
    probability: float = 1.0
    by: str = "reviewer"


@dataclass(frozen=True, order=True)
class EntityEvent:
    """What happened to an entity in one run, for the history table.

    Attributes
    ----------
    entity : str
        The entity concerned (its id after the run).
    kind : str
        ``created`` (a new entity of records none of which had one), ``merged`` (the
        records of entity ``origin``, which disappears, joined ``entity``), ``split``
        (records left entity ``origin``, which remains, for ``entity``), ``joined``
        (records new to the store joined an entity that had records).
    records : tuple of str
        The records concerned, sorted.
    origin : str or None
        The entity the records came from (``merged``, ``split``).
    """

    entity: str
    kind: str
    records: tuple[str, ...]
    origin: str | None = None


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _band(match_threshold: float, review_band: tuple[float, float]) -> tuple[float, float]:
    low, high = review_band
    if not 0 <= low <= high <= 1 or not 0 <= match_threshold <= 1:
        raise CohesionError(f"bande de relecture [{low}, {high}) ou seuil {match_threshold} "
                            "invalide : attendu 0 ≤ bas ≤ haut ≤ 1 et un seuil entre 0 et 1")
    return low, high


def _decisions(decisions: Mapping[tuple[str, str], str],
               what: str = "décision de relecture") -> dict[tuple[str, str], str]:
    """Decisions (or labels) keyed by ordered pairs, their values checked."""
    checked: dict[tuple[str, str], str] = {}
    for (a, b), decision in decisions.items():
        if decision not in DECISIONS:
            raise CohesionError(f"{what} inconnue pour ({a}, {b}) : {decision!r} ; attendu "
                                "« same » (même entité) ou « different » (entités "
                                "différentes)")
        if a == b:
            raise CohesionError(f"{what} sur une fiche avec elle-même : {a}")
        checked[_pair(a, b)] = decision
    return checked


def decide(pairs: pd.DataFrame, decisions: Mapping[tuple[str, str], str],
           match_threshold: float = MATCH_THRESHOLD,
           review_band: tuple[float, float] = REVIEW_BAND) -> tuple[list[Link], pd.DataFrame]:
    """The links to make and the pairs to review: reviewers' decisions win over the model.

    Parameters
    ----------
    pairs : DataFrame
        Scored pairs (:func:`~cohesion.innovations.dedup.candidate_pairs`): ``record_a``,
        ``record_b`` and ``probability`` at least.
    decisions : mapping of (str, str) to str
        Reviewers' decisions, ``same`` or ``different``, by pair of record ids (in either
        order). A decision holds whatever the model says, and also for a pair the model
        did not score.
    match_threshold : float
        Probability from which the model links a pair nobody decided.
    review_band : (float, float)
        ``[low, high)``: undecided pairs whose probability falls there go to the queue.

    Returns
    -------
    matches : list of Link
        Reviewers' ``same`` decisions, then the model's links, each sorted by pair.
    uncertain : DataFrame
        The rows of ``pairs`` to review (undecided, in the band), the most probable first.

    Raises
    ------
    CohesionError
        For a decision other than ``same`` and ``different``, a pair of a record with
        itself, or a band or threshold outside ``0 ≤ low ≤ high ≤ 1``.

    Examples
    --------
    >>> pairs = pd.DataFrame({"record_a": ["a", "a", "b"], "record_b": ["b", "c", "c"],
    ...                       "probability": [0.97, 0.85, 0.6]})
    >>> matches, uncertain = decide(pairs, {("c", "a"): "different"})
    >>> [(m.record_a, m.record_b, m.by) for m in matches]
    [('a', 'b', 'model')]
    >>> uncertain[["record_a", "record_b"]].values.tolist()
    [['b', 'c']]
    """
    low, high = _band(match_threshold, review_band)
    checked = _decisions(decisions)
    keys = [_pair(a, b) for a, b in zip(pairs["record_a"], pairs["record_b"], strict=True)]
    decided = pd.Series([key in checked for key in keys], index=pairs.index, dtype=bool)
    probability = pairs["probability"].astype(float)
    reviewed = [Link(a, b) for (a, b), decision in sorted(checked.items()) if decision == "same"]
    linked = pairs[~decided & (probability >= match_threshold)]
    model = sorted(Link(*_pair(str(a), str(b)), float(p), "model") for a, b, p in zip(
        linked["record_a"], linked["record_b"], linked["probability"], strict=True))
    uncertain = pairs[~decided & (probability >= low) & (probability < high)]
    uncertain = uncertain.assign(_key=[_pair(a, b) for a, b in zip(
        uncertain["record_a"], uncertain["record_b"], strict=True)])
    uncertain = (uncertain.sort_values(["probability", "_key"], ascending=[False, True],
                                       kind="stable")
                 .drop(columns="_key").reset_index(drop=True))
    return reviewed + model, uncertain


class _Components:
    """Union-find over record ids that refuses to join records a reviewer kept apart."""

    def __init__(self, ids: Iterable[str], apart: Iterable[tuple[str, str]]) -> None:
        self.parent = {record: record for record in ids}
        self.members = {record: {record} for record in self.parent}
        self.apart: dict[str, set[str]] = {record: set() for record in self.parent}
        for a, b in apart:
            if a in self.parent and b in self.parent:
                self.apart[a].add(b)
                self.apart[b].add(a)

    def find(self, record: str) -> str:
        root = record
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[record] != root:
            self.parent[record], record = root, self.parent[record]
        return root

    def join(self, a: str, b: str) -> None:
        """Put ``a`` and ``b`` in one component, unless that joins records kept apart."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        kept_apart = set().union(*(self.apart[m] for m in self.members[ra]))
        if kept_apart & self.members[rb]:
            return
        self.parent[rb] = ra
        self.members[ra] |= self.members.pop(rb)

    def groups(self) -> list[tuple[str, ...]]:
        """The components, each sorted, ordered by their first record."""
        return sorted(tuple(sorted(members)) for members in self.members.values())


def _as_link(match: Link | tuple[str, str]) -> Link:
    return match if isinstance(match, Link) else Link(*_pair(*match))


def assign_entities(previous: Mapping[str, str], matches: Iterable[Link | tuple[str, str]],
                    all_record_ids: Iterable[str], new_id: Callable[[], str], *,
                    apart: Iterable[tuple[str, str]] = ()
                    ) -> tuple[dict[str, str], list[EntityEvent]]:
    """Entities of the records, keeping the ids of the previous run.

    Linked records form an entity (connected components of ``matches``). Reviewers'
    links are made first, then the model's, the most probable first; a link that would
    put in one entity two records a reviewer said ``different`` (``apart``) is not made,
    so that a decision holds even against a chain of other links.

    An entity keeps its id as long as it keeps records: a component takes the id of the
    previous entity it shares most records with (then the larger previous entity, then
    the smaller id: give ids that sort by creation, so that the oldest wins). A record of
    a new source joining an entity does not renumber it; when an entity is split, the part
    with most of its records keeps the id (the part with the first record id on a tie)
    and the other parts get new ones.

    Parameters
    ----------
    previous : mapping of str to str
        Entity id of each record after the previous run (empty at the first run).
    matches : iterable of Link or (str, str)
        Links to make (:func:`decide`); a plain pair counts as a reviewer's link.
    all_record_ids : iterable of str
        Every record to place (each gets an entity, alone if linked to none). Links and
        previous entries of other records are ignored.
    new_id : callable
        Gives a fresh entity id at each call; called in a deterministic order.
    apart : iterable of (str, str)
        Pairs a reviewer said ``different``.

    Returns
    -------
    mapping : dict of str to str
        Entity id of each record.
    events : list of EntityEvent
        What changed since ``previous``, sorted.

    Examples
    --------
    Entity ``E2`` joins the larger ``E1``, and a new record gets a new entity:

    >>> ids = iter(["E3", "E4"])
    >>> mapping, events = assign_entities(
    ...     {"a": "E1", "b": "E1", "c": "E2"}, [("a", "b"), ("b", "c")],
    ...     ["a", "b", "c", "d"], lambda: next(ids))
    >>> mapping
    {'a': 'E1', 'b': 'E1', 'c': 'E1', 'd': 'E3'}
    >>> [(e.kind, e.entity, e.records, e.origin) for e in events]
    [('merged', 'E1', ('c',), 'E2'), ('created', 'E3', ('d',), None)]
    """
    records = sorted(set(all_record_ids))
    known = set(records)
    components = _Components(records, apart)
    links = [link for link in map(_as_link, matches)
             if link.record_a in known and link.record_b in known]
    for link in sorted(links, key=lambda m: (m.by != "reviewer", -m.probability,
                                             m.record_a, m.record_b)):
        components.join(link.record_a, link.record_b)
    groups = components.groups()
    before: dict[str, set[str]] = {}
    for record, entity in previous.items():
        if record in known:
            before.setdefault(entity, set()).add(record)
    candidates = sorted(
        (-len(before[entity] & set(group)), -len(before[entity]), entity, index)
        for index, group in enumerate(groups)
        for entity in {previous[r] for r in group if r in previous})
    owner: dict[int, str] = {}
    taken: set[str] = set()
    for _, _, entity, index in candidates:
        if index not in owner and entity not in taken:
            owner[index] = entity
            taken.add(entity)
    for index in range(len(groups)):
        if index not in owner:
            owner[index] = new_id()
    mapping: dict[str, str] = {}
    events: list[EntityEvent] = []
    for index, group in enumerate(groups):
        entity = owner[index]
        mapping.update(dict.fromkeys(group, entity))
        origins: dict[str, list[str]] = {}
        for record in group:
            if record in previous and previous[record] != entity:
                origins.setdefault(previous[record], []).append(record)
        for origin, moved in origins.items():
            kind = "split" if origin in taken else "merged"
            events.append(EntityEvent(entity, kind, tuple(moved), origin))
        newcomers = tuple(r for r in group if r not in previous)
        if newcomers and len(newcomers) == len(group):
            events.append(EntityEvent(entity, "created", newcomers))
        elif newcomers:
            events.append(EntityEvent(entity, "joined", newcomers))
    order = {kind: rank for rank, kind in enumerate(EVENT_KINDS)}
    events.sort(key=lambda e: (e.entity, order[e.kind], e.origin or "", e.records))
    return mapping, events
