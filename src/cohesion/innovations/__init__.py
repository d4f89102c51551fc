"""The Carrefour des innovations sociales: local social innovations, gathered and shared.

Records of partner inventories are harvested by declarative connectors
(:mod:`cohesion.innovations.connectors`), kept in a relational store with what users
write (:mod:`cohesion.innovations.store`), grouped into entities across sources
(:mod:`cohesion.innovations.dedup`) and searched (:mod:`cohesion.innovations.search`).
"""

from cohesion.innovations.records import (
    Harvest,
    Record,
    RowFailure,
    canonical_url,
    fold,
    stable_id,
)

__all__ = ["Harvest", "Record", "RowFailure", "canonical_url", "fold", "stable_id"]
