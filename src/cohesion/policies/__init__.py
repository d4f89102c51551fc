"""Public policies and their money: pure domain code, frames in, results out.

- :mod:`cohesion.policies.funding`: the budget programmes and dispositifs (adultes-relais
  and FONJEP posts of the politique de la ville, DETR, DSIL and DSID dotations
  d'investissement), and the detection of the problems of the funding files (text
  years, exact duplicates, the same post on several rows, chained lists, partial
  years).
- :mod:`cohesion.policies.indicators`: the funding indicators (totals, per inhabitant,
  per QPV inhabitant, per poor person, at every level and year), declared like those
  of the catalogue, and the need indicators they are compared with.
- :mod:`cohesion.policies.needs`: where the money goes against where the needs are
  (concentration curve and index, quadrants).

Nothing here reads a file or the warehouse: :mod:`cohesion.importers.funding` and
:mod:`cohesion.core.policies` do.
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
from cohesion.policies.indicators import (
    DENOMINATORS,
    FUNDING_INDICATORS,
    NEED_INDICATORS,
    Denominator,
    funding_indicator_ids,
)
from cohesion.policies.needs import QUADRANTS, NeedsFunding, needs_vs_funding, quadrants

__all__ = ["DENOMINATORS", "DISPOSITIFS", "FUNDING_INDICATORS", "NEED_INDICATORS",
           "PROGRAMMES", "QUADRANTS", "THEMES", "Denominator", "Dispositif", "NeedsFunding",
           "PostResolution", "Programme", "UnknownDispositifError", "dispositif",
           "funding_indicator_ids", "needs_vs_funding", "partial_year", "quadrants",
           "resolve_posts"]
