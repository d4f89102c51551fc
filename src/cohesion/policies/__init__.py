"""Public policies and their money: pure domain code, frames in, results out.

- :mod:`cohesion.policies.funding`: the budget programmes and dispositifs (adultes-relais
  and FONJEP posts of the politique de la ville, DETR, DSIL and DSID dotations
  d'investissement), and the detection of the problems of the funding files (text
  years, exact duplicates, the same post on several rows, chained lists, partial
  years).

Nothing here reads a file or the warehouse: :mod:`cohesion.importers.funding` does.
"""

from cohesion.policies.funding import (
    DISPOSITIFS,
    PROGRAMMES,
    THEMES,
    Dispositif,
    PostResolution,
    Programme,
    UnknownDispositifError,
    dispositif,
    partial_year,
    resolve_posts,
)

__all__ = ["DISPOSITIFS", "PROGRAMMES", "THEMES", "Dispositif", "PostResolution",
           "Programme", "UnknownDispositifError", "dispositif", "partial_year",
           "resolve_posts"]
