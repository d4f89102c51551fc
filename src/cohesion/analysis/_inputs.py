"""Checks and conversions shared by the analysis functions (arrays in, arrays out)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cohesion.analysis.errors import AnalysisInputError


def check_option(value: str, options: Iterable[str], name: str) -> str:
    """Return ``value`` if it is one of ``options``, else raise listing them."""
    options = tuple(options)
    if value not in options:
        raise AnalysisInputError(
            f"{name}={value!r} n'est pas une option valide (valeurs possibles : "
            f"{', '.join(repr(o) for o in options)})")
    return value


def as_vector(values: Any, name: str = "values") -> np.ndarray:
    """A 1-d float array; pandas missing values (``NA``, ``None``) become NaN."""
    if isinstance(values, pd.Series | pd.Index):
        values = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise AnalysisInputError(f"{name} doit contenir des nombres : {error}") from None
    if array.ndim != 1:
        raise AnalysisInputError(
            f"{name} doit donner une valeur par territoire (tableau à une dimension) ; "
            f"forme reçue : {array.shape}")
    return array


def as_weights(weights: Any, n: int) -> np.ndarray:
    """Weights aligned with ``n`` values: finite and non-negative, NaN where unknown."""
    array = as_vector(weights, "weights")
    if len(array) != n:
        raise AnalysisInputError(f"weights compte {len(array)} éléments pour {n} valeurs")
    known = array[~np.isnan(array)]
    if np.isinf(known).any() or (known < 0).any():
        raise AnalysisInputError(
            "weights doit contenir des valeurs finies, positives ou nulles (une population, un "
            "dénominateur) ; trouvé "
            f"{int(np.isinf(known).sum())} valeur(s) infinie(s) et "
            f"{int((known < 0).sum())} négative(s)")
    return array


def as_groups(partition: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer group codes (-1 where the label is missing) and the distinct labels."""
    labels = pd.Series(np.asarray(partition, dtype=object))
    if len(labels) != n:
        raise AnalysisInputError(f"partition compte {len(labels)} libellés pour {n} valeurs")
    codes, uniques = pd.factorize(labels, sort=True, use_na_sentinel=True)
    return codes.astype(np.intp), np.asarray(uniques, dtype=object)


def aligned(reference: Any, other: Any, name: str) -> Any:
    """``other`` matched to ``reference`` by label when both are Series, else unchanged.

    Series are aligned like pandas does, so a weight or a group never lands on another
    territory because two Series were sorted differently; a label missing from
    ``other`` gives a missing weight or group.
    """
    if not (isinstance(reference, pd.Series) and isinstance(other, pd.Series)):
        return other
    if reference.index.has_duplicates:
        raise AnalysisInputError("values cite deux fois un même territoire, par exemple "
                                 f"{reference.index[reference.index.duplicated()][0]!r}")
    if other.index.has_duplicates:
        raise AnalysisInputError(f"{name} cite deux fois un même territoire, par exemple "
                                 f"{other.index[other.index.duplicated()][0]!r}")
    return other.reindex(reference.index)


@dataclass(frozen=True)
class Observations:
    """The territories usable by a measure: values, weights and groups, none missing.

    Attributes
    ----------
    values, weights : ndarray
        Weights are all 1 when the measure is unweighted.
    groups : ndarray or None
        Integer group codes, an index into ``group_labels``.
    group_labels : ndarray or None
    n_missing : int
        Territories dropped because their value or weight is missing.
    weighted : bool
    """

    values: np.ndarray
    weights: np.ndarray
    groups: np.ndarray | None
    group_labels: np.ndarray | None
    n_missing: int
    weighted: bool

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def shares(self) -> np.ndarray:
        """Population shares ``p_i = w_i / Σ w`` (NaN if every weight is 0)."""
        total = self.weights.sum()
        return self.weights / total if total > 0 else np.full(self.n, np.nan)


def observations(values: Any, weights: Any = None, partition: Any = None) -> Observations:
    """Drop territories whose value (or weight) is missing and check the rest.

    A territory with a value but no group in ``partition`` is an error: dropping it
    silently would change the total being decomposed. Series are matched by label.
    """
    weights, partition = aligned(values, weights, "weights"), aligned(values, partition,
                                                                      "partition")
    array = as_vector(values)
    if np.isinf(array).any():
        raise AnalysisInputError(
            f"values contient {int(np.isinf(array).sum())} valeur(s) infinie(s) ; utilisez NaN "
            "pour une valeur manquante")
    weight_array = None if weights is None else as_weights(weights, len(array))
    keep = ~np.isnan(array)
    if weight_array is not None:
        keep &= ~np.isnan(weight_array)
    groups = group_labels = None
    if partition is not None:
        codes, group_labels = as_groups(partition, len(array))
        ungrouped = np.flatnonzero(keep & (codes < 0))
        if len(ungrouped):
            raise AnalysisInputError(
                f"{len(ungrouped)} territoire(s) ont une valeur mais aucun groupe dans la "
                f"partition (positions {', '.join(map(str, ungrouped[:5]))}…) ; attribuez-leur "
                "un groupe ou mettez leur valeur à NaN")
        # groups left without any territory once missing values are dropped disappear
        present, groups = np.unique(codes[keep], return_inverse=True)
        group_labels = group_labels[present]
    return Observations(
        values=array[keep],
        weights=np.ones(int(keep.sum())) if weight_array is None else weight_array[keep],
        groups=groups, group_labels=group_labels, n_missing=int((~keep).sum()),
        weighted=weight_array is not None)


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy random generator from a seed (or the generator itself)."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
