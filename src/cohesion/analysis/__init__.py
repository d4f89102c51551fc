"""Analysis of territorial inequalities: pure functions, arrays in, typed results out.

- :mod:`~cohesion.analysis.inequality`: interdecile ratio, coefficient of variation,
  Gini, Theil T and L with their between/within decomposition, Atkinson, max/min;
- :mod:`~cohesion.analysis.convergence`: sigma- and beta-convergence and the
  baromètre's two-date fact sheet;
- :mod:`~cohesion.analysis.spatial`: contiguity weights, global and local Moran;
- :mod:`~cohesion.analysis.typology`: PCA, Ward and k-means classes (HCPC), profiles,
  paragons, stability;
- :mod:`~cohesion.analysis.composite`: composite indices and their rank intervals;
- :mod:`~cohesion.analysis.barometre`: the baromètre de la cohésion des territoires (a
  territory's position, fact sheets; it also exports its declared definition, read by
  :mod:`~cohesion.analysis.barometre_definition`, and the factor scores of
  :mod:`~cohesion.analysis.barometre_scores`).

Nothing here reads the warehouse: :mod:`cohesion.analysis.commands`,
:mod:`cohesion.analysis.partitions` and
:mod:`cohesion.analysis.barometre_data` do, at the edge.
Undefined figures are NaN with a ``note`` saying why; arguments that do not fit raise
:class:`~cohesion.analysis.errors.AnalysisError`.
"""

from cohesion.analysis.barometre import *  # noqa: F403
from cohesion.analysis.barometre import __all__ as _barometre
from cohesion.analysis.composite import *  # noqa: F403
from cohesion.analysis.composite import __all__ as _composite
from cohesion.analysis.convergence import *  # noqa: F403
from cohesion.analysis.convergence import __all__ as _convergence
from cohesion.analysis.errors import AnalysisError, AnalysisInputError, NotEnoughDataError
from cohesion.analysis.inequality import *  # noqa: F403
from cohesion.analysis.inequality import __all__ as _inequality
from cohesion.analysis.spatial import *  # noqa: F403
from cohesion.analysis.spatial import __all__ as _spatial
from cohesion.analysis.typology import *  # noqa: F403
from cohesion.analysis.typology import __all__ as _typology

__all__ = [
    "AnalysisError",
    "AnalysisInputError",
    "NotEnoughDataError",
    *_barometre,
    *_composite,
    *_convergence,
    *_inequality,
    *_spatial,
    *_typology,
]
