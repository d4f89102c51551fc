"""Record linkage across sources: which records are one innovation, with stable entity ids.

The same structure or project appears in several sources (and twice in one): an
association employing adultes-relais under its SIRET and FONJEP posts under a variant
of its name, a project funded by two dotations, an initiative listed twice on a map.
Deduplication runs in four steps, each a pure function the relational store calls:

1. :func:`candidate_pairs` blocks the records into pairs worth comparing and scores each
   with a Fellegi-Sunter model run by splink on an in-memory DuckDB database
   (:mod:`~cohesion.innovations.dedup._model`, words from
   :mod:`~cohesion.innovations.dedup._features`);
2. :func:`decide` applies the reviewers' decisions, which always win, links the pairs
   the model is sure of and sends the uncertain ones to the review queue;
3. :func:`assign_entities` groups linked records into entities whose ids last from one
   run to the next, and tells the merges and splits for the history;
4. :func:`evaluate` measures precision and recall on a labelled set.

``docs/innovations-dedup.md`` explains the model, its thresholds and the labelled set.

Examples
--------
>>> from cohesion.innovations.records import Record
>>> records = [
...     Record(id="postes:1", source="postes", source_key="1", title="ASSOC CTRE SOCIAL ALMA",
...            porteur="ASSOC CTRE SOCIAL ALMA", siret="31656179400058",
...            siren="316561794", departement="59"),
...     Record(id="postes:2", source="postes", source_key="2",
...            title="Centre social de l'Alma", porteur="Centre social de l'Alma",
...            siret="31656179400066", siren="316561794", departement="59"),
...     Record(id="carte:1", source="carte", source_key="1", title="Jardin partagé",
...            lat=45.19, lon=5.75)]
>>> pairs = candidate_pairs(records)
>>> pairs[["record_a", "record_b"]].values.tolist()
[['postes:1', 'postes:2']]
>>> matches, uncertain = decide(pairs, {})
>>> mapping, events = assign_entities({}, matches, [r.id for r in records],
...                                   iter(["E1", "E2"]).__next__)
>>> mapping["postes:1"] == mapping["postes:2"] != mapping["carte:1"]
True
"""

from cohesion.innovations.dedup._entities import (
    DECISIONS,
    MATCH_THRESHOLD,
    REVIEW_BAND,
    EntityEvent,
    Link,
    assign_entities,
    decide,
)
from cohesion.innovations.dedup._evaluation import Scores, evaluate
from cohesion.innovations.dedup._features import linkage_frame, name_key
from cohesion.innovations.dedup._model import BLOCKING_RULES, LEVELS, candidate_pairs, explain

__all__ = [
    "BLOCKING_RULES",
    "DECISIONS",
    "LEVELS",
    "MATCH_THRESHOLD",
    "REVIEW_BAND",
    "EntityEvent",
    "Link",
    "Scores",
    "assign_entities",
    "candidate_pairs",
    "decide",
    "evaluate",
    "explain",
    "linkage_frame",
    "name_key",
]
