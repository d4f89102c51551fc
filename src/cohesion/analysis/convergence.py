"""Convergence between territories: sigma, beta and the baromètre's two-date fact sheet.

*Sigma-convergence* asks whether the dispersion of the territories' values shrinks over
time; *beta-convergence* whether the territories that started low grew faster (a
negative slope of growth on the initial level). The baromètre de la cohésion des
territoires presents each indicator as a *fact sheet*: its value at two dates, the
contrast between the highest and the lowest territory (« l'écart entre la région
présentant la part la plus élevée et celle présentant la part la plus faible »), the
change of the interdecile ratio of the EPCI, and a breakdown by a typology (density,
urban area).

Territories are matched by label (the index of a Series, or the row of a DataFrame),
and the comparison over time only keeps territories that have a value at every date, so
a change of dispersion never comes from a change of the set of territories; the
results count those dropped. The policy for undefined figures is the one of
:mod:`cohesion.analysis.inequality` (NaN with a ``note``); a contrast needs at least two
territories with a value at both dates.

Examples
--------
>>> import pandas as pd
>>> from cohesion.analysis import two_date_contrast
>>> before = pd.Series({"94": 3.4, "04": 25.9, "93": 10.0})
>>> after = pd.Series({"94": 3.3, "04": 26.4, "93": 11.0})
>>> contrast = two_date_contrast(before, after, "2016", "2018")
>>> contrast.second_extremes.highest, round(contrast.gap_change, 1)
('04', 0.6)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cohesion.analysis._inputs import aligned, as_vector, as_weights, check_option
from cohesion.analysis.errors import AnalysisInputError, NotEnoughDataError
from cohesion.analysis.inequality import (
    InterdecileRatio,
    coefficient_of_variation,
    gini,
    interdecile_ratio,
    theil,
)

__all__ = [
    "SIGMA_MEASURES",
    "BetaConvergence",
    "ConvergenceFactSheet",
    "Extremes",
    "SigmaConvergence",
    "TwoDateContrast",
    "beta_convergence",
    "breakdown_by_class",
    "convergence_fact_sheet",
    "sigma_convergence",
    "two_date_contrast",
]

NAN = float("nan")

#: Dispersion measures :func:`sigma_convergence` accepts.
SIGMA_MEASURES = ("cv", "std", "std_log", "gini", "theil_t", "theil_l", "interdecile_ratio")


def _dispersion(values: np.ndarray, weights: np.ndarray | None,
                measure: str) -> tuple[float, str | None]:
    """One dispersion figure and, when it is NaN, why."""
    if measure in ("cv", "std"):
        result = coefficient_of_variation(values, weights)
        return (result.value, result.note) if measure == "cv" else (result.std, result.note)
    if measure == "std_log":
        known = values[~np.isnan(values)]
        if (known <= 0).any():
            return NAN, (f"{int((known <= 0).sum())} valeur(s) ne sont pas strictement positives : "
                         "l'écart type des logarithmes n'est pas défini")
        result = coefficient_of_variation(np.log(values), weights)
        return result.std, result.note
    if measure == "gini":
        result = gini(values, weights)
        return result.value, result.note
    if measure in ("theil_t", "theil_l"):
        result = theil(values, weights, kind="T" if measure == "theil_t" else "L")
        return result.total, result.note
    result = interdecile_ratio(values, weights)
    return result.ratio, result.note


# -- sigma-convergence ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class SigmaConvergence:
    r"""Dispersion of the same territories at successive periods.

    Territories converge in the sigma sense when the dispersion :math:`\sigma_t` of
    their values decreases: :math:`\sigma_{t_1} < \sigma_{t_0}`.

    Attributes
    ----------
    measure : str
        One of :data:`SIGMA_MEASURES`: ``cv`` (coefficient of variation), ``std``,
        ``std_log`` (standard deviation of logarithms, the classic measure of the
        growth literature), ``gini``, ``theil_t``, ``theil_l``, ``interdecile_ratio``.
    dispersion : Series
        The measure at each period, in the order of the panel's columns.
    n : int
        Territories with a value at every period.
    n_dropped : int
        Territories dropped because a period lacked their value.
    notes : dict of str to str
        Why the measure is NaN at a period, when it is.
    """

    measure: str
    dispersion: pd.Series
    n: int
    n_dropped: int
    notes: dict[str, str]

    @property
    def change(self) -> float:
        """Last minus first dispersion (negative: convergence)."""
        return float(self.dispersion.iloc[-1] - self.dispersion.iloc[0])

    @property
    def relative_change(self) -> float:
        """Last over first dispersion, minus 1."""
        first = self.dispersion.iloc[0]
        return float(self.dispersion.iloc[-1] / first - 1) if first else NAN

    @property
    def converging(self) -> bool | None:
        """True if the dispersion decreased, None if it cannot be told."""
        return None if np.isnan(self.change) else bool(self.change < 0)


def sigma_convergence(panel: pd.DataFrame, weights: Any = None, *,
                      measure: str = "cv") -> SigmaConvergence:
    """Dispersion of the territories' values at each period.

    Parameters
    ----------
    panel : DataFrame
        One row per territory, one column per period (oldest first).
    weights : array-like or DataFrame, optional
        One weight per territory, or a DataFrame shaped like ``panel`` with the weights
        of each period.
    measure : str
        See :data:`SIGMA_MEASURES`.

    Returns
    -------
    SigmaConvergence

    Examples
    --------
    >>> import pandas as pd
    >>> panel = pd.DataFrame({"2013": [10.0, 20.0, 30.0], "2018": [15.0, 20.0, 25.0]})
    >>> result = sigma_convergence(panel, measure="std")
    >>> [round(v, 3) for v in result.dispersion], result.converging
    ([8.165, 4.082], True)
    """
    check_option(measure, SIGMA_MEASURES, "measure")
    if not isinstance(panel, pd.DataFrame) or panel.shape[1] < 2:
        raise AnalysisInputError("panel doit être un DataFrame avec une colonne par période "
                                 "(au moins deux)")
    values = panel.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if isinstance(weights, pd.DataFrame):
        if weights.shape != panel.shape:
            raise AnalysisInputError(f"weights est de forme {weights.shape}, le panel "
                                     f"de forme {panel.shape}")
        weight_matrix = weights.to_numpy(dtype=float)
    elif weights is not None:
        weights = aligned(panel.iloc[:, 0], weights, "weights")
        weight_matrix = np.repeat(as_weights(weights, len(panel))[:, None], panel.shape[1], 1)
    else:
        weight_matrix = None
    complete = ~np.isnan(values).any(axis=1)
    if weight_matrix is not None:
        complete &= ~np.isnan(weight_matrix).any(axis=1)
    dispersion, notes = [], {}
    for column, period in enumerate(panel.columns):
        figure, note = _dispersion(
            values[complete, column],
            None if weight_matrix is None else weight_matrix[complete, column], measure)
        dispersion.append(figure)
        if note:
            notes[str(period)] = note
    return SigmaConvergence(
        measure=measure, dispersion=pd.Series(dispersion, index=panel.columns, dtype=float),
        n=int(complete.sum()), n_dropped=int((~complete).sum()), notes=notes)


# -- beta-convergence -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class BetaConvergence:
    r"""Regression of the territories' growth on their initial level.

    With :math:`T` years between the dates, the (weighted) least squares fit of

    .. math::

        \frac{\ln y_{i,T} - \ln y_{i,0}}{T} = \alpha + \beta \ln y_{i,0}
        + \varepsilon_i

    (or, with ``log=False``, :math:`(y_{i,T} - y_{i,0}) / T = \alpha + \beta y_{i,0}`,
    for rates whose change is read in points). :math:`\beta < 0` means convergence:
    the lower the start, the faster the growth. The implied speed of convergence is
    :math:`\lambda = -\ln(1 + \beta T) / T` and the half-life
    :math:`\ln 2 / \lambda`.

    Attributes
    ----------
    beta, intercept : float
    std_error : float
        Classical standard error of :math:`\beta`: :math:`\hat\sigma^2 (X'WX)^{-1}`
        with :math:`\hat\sigma^2 = \sum_i w_i e_i^2 / (n - 2)`.
    robust_std_error : float
        Heteroskedasticity-robust (HC1) standard error of :math:`\beta`.
    t_statistic, p_value : float
        Test of :math:`\beta = 0` against a Student law with :math:`n - 2` degrees of
        freedom (two-sided), with the classical standard error.
    r_squared : float
    years : float
    log : bool
    n, n_missing : int
        Territories used, and dropped for a missing value or weight.
    weighted : bool
    note : str or None
        Why the figures are NaN, when they are.
    """

    beta: float
    intercept: float
    std_error: float
    robust_std_error: float
    t_statistic: float
    p_value: float
    r_squared: float
    years: float
    log: bool
    n: int
    n_missing: int
    weighted: bool
    note: str | None = None

    @property
    def speed(self) -> float:
        r"""Annual speed of convergence :math:`\lambda` (log regression only)."""
        base = 1 + self.beta * self.years
        return float(-np.log(base) / self.years) if self.log and base > 0 else NAN

    @property
    def half_life(self) -> float:
        r"""Years needed to close half the gap, :math:`\ln 2 / \lambda` (if converging)."""
        return float(np.log(2) / self.speed) if self.speed > 0 else NAN

    @property
    def converging(self) -> bool | None:
        r"""True if :math:`\beta < 0` at the 5 % level, None if it cannot be told."""
        if np.isnan(self.p_value):
            return None
        return bool(self.beta < 0 and self.p_value < 0.05)


def beta_convergence(initial: Any, final: Any, years: float, weights: Any = None, *,
                     log: bool = True) -> BetaConvergence:
    """Beta-convergence of the territories between two dates.

    Parameters
    ----------
    initial, final : array-like
        One value per territory at each date (same order, or Series matched by label);
        NaN for a missing one.
    years : float
        Years between the two dates.
    weights : array-like, optional
        Regression weights (for example the initial population).
    log : bool
        Regress log growth on the log level (default), or the change in points on the
        level (for rates).

    Returns
    -------
    BetaConvergence

    Examples
    --------
    >>> result = beta_convergence([10, 20, 40, 80], [20, 30, 50, 85], years=5)
    >>> round(result.beta, 4), result.converging
    (-0.06, True)
    """
    if not np.isfinite(years) or years <= 0:
        raise AnalysisInputError(f"years doit être un nombre strictement positif ; reçu {years!r}")
    final, weights = aligned(initial, final, "final"), aligned(initial, weights, "weights")
    start, end = as_vector(initial, "initial"), as_vector(final, "final")
    if len(start) != len(end):
        raise AnalysisInputError(f"initial compte {len(start)} valeurs et final {len(end)}")
    weight_array = None if weights is None else as_weights(weights, len(start))
    keep = ~np.isnan(start) & ~np.isnan(end)
    if weight_array is not None:
        keep &= ~np.isnan(weight_array)
    start, end = start[keep], end[keep]
    n = len(start)
    context = {"years": float(years), "log": log, "n": n, "n_missing": int((~keep).sum()),
               "weighted": weight_array is not None}
    undefined = dict.fromkeys(("beta", "intercept", "std_error", "robust_std_error",
                               "t_statistic", "p_value", "r_squared"), NAN)
    if n < 3:
        return BetaConvergence(**undefined, **context,
                               note=f"il faut au moins 3 territoires, {n} seulement")
    if weight_array is not None and not weight_array[keep].sum() > 0:
        return BetaConvergence(**undefined, **context, note="tous les poids sont nuls")
    if log and ((start <= 0).any() or (end <= 0).any()):
        bad = int(((start <= 0) | (end <= 0)).sum())
        return BetaConvergence(**undefined, **context, note=(
            f"{bad} territoire(s) ont une valeur qui n'est pas strictement positive : la "
            "croissance logarithmique n'est pas définie (utilisez log=False pour régresser "
            "l'évolution en points)"))
    level = np.log(start) if log else start
    growth = (np.log(end) - np.log(start)) / years if log else (end - start) / years
    if np.ptp(level) == 0:
        return BetaConvergence(**undefined, **context,
                               note="tous les territoires partent du même niveau")
    # weights only matter relative to each other; a mean of 1 keeps sums of usual size
    w = np.ones(n) if weight_array is None else weight_array[keep] / weight_array[keep].mean()
    design = np.column_stack([np.ones_like(level), level])
    bread = np.linalg.inv(design.T @ (w[:, None] * design))
    intercept, beta = bread @ (design.T @ (w * growth))
    residuals = growth - intercept - beta * level
    dof = n - 2
    variance = np.dot(w, residuals ** 2) / dof
    std_error = float(np.sqrt(variance * bread[1, 1]))
    meat = design.T @ (((w * residuals) ** 2)[:, None] * design)
    robust = bread @ meat @ bread * n / dof
    mean_growth = np.dot(w, growth) / w.sum()
    total = np.dot(w, (growth - mean_growth) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_statistic = beta / std_error
        r_squared = 1 - np.dot(w, residuals ** 2) / total
    return BetaConvergence(
        beta=float(beta), intercept=float(intercept), std_error=std_error,
        robust_std_error=float(np.sqrt(robust[1, 1])), t_statistic=float(t_statistic),
        p_value=float(2 * stats.t.sf(abs(t_statistic), dof)), r_squared=float(r_squared),
        **context)


# -- the fact sheet ---------------------------------------------------------------------


@dataclass(frozen=True)
class Extremes:
    """The highest and lowest territory at one date.

    Attributes
    ----------
    highest, lowest : object
        Labels of the territories (the Series index).
    highest_value, lowest_value : float
    """

    highest: Any
    highest_value: float
    lowest: Any
    lowest_value: float

    @property
    def gap(self) -> float:
        """Highest minus lowest value (the « écart », in points for a rate)."""
        return self.highest_value - self.lowest_value

    @property
    def ratio(self) -> float:
        """Highest over lowest value, NaN unless the lowest is positive."""
        return self.highest_value / self.lowest_value if self.lowest_value > 0 else NAN


def _extremes(values: pd.Series) -> Extremes:
    return Extremes(highest=values.idxmax(), highest_value=float(values.max()),
                    lowest=values.idxmin(), lowest_value=float(values.min()))


@dataclass(frozen=True, kw_only=True, eq=False)
class TwoDateContrast:
    """The same territories at two dates: level, extremes and interdecile ratio.

    Attributes
    ----------
    first_period, second_period : str
    n : int
        Territories with a value at both dates.
    n_dropped : int
        Territories with a value at one date only.
    first_mean, second_mean : float
        Mean value (weighted: with the denominators as weights, the ratio of sums).
    first_extremes, second_extremes : Extremes
    first_interdecile, second_interdecile : InterdecileRatio
    """

    first_period: str
    second_period: str
    n: int
    n_dropped: int
    first_mean: float
    second_mean: float
    first_extremes: Extremes
    second_extremes: Extremes
    first_interdecile: InterdecileRatio
    second_interdecile: InterdecileRatio

    @property
    def gap_change(self) -> float:
        """Change of the gap between the highest and the lowest territory."""
        return self.second_extremes.gap - self.first_extremes.gap

    @property
    def interdecile_ratio_change(self) -> float:
        """Change of D9/D1 (negative: the territories drew closer)."""
        return self.second_interdecile.ratio - self.first_interdecile.ratio

    def to_frame(self) -> pd.DataFrame:
        """One row per figure with its value at each date and the change."""
        rows = {
            "mean": (self.first_mean, self.second_mean),
            "highest": (self.first_extremes.highest_value, self.second_extremes.highest_value),
            "lowest": (self.first_extremes.lowest_value, self.second_extremes.lowest_value),
            "gap": (self.first_extremes.gap, self.second_extremes.gap),
            "max_min_ratio": (self.first_extremes.ratio, self.second_extremes.ratio),
            "d1": (self.first_interdecile.d1, self.second_interdecile.d1),
            "d9": (self.first_interdecile.d9, self.second_interdecile.d9),
            "interdecile_ratio": (self.first_interdecile.ratio, self.second_interdecile.ratio),
        }
        frame = pd.DataFrame(rows, index=[self.first_period, self.second_period]).T
        frame["change"] = frame[self.second_period] - frame[self.first_period]
        return frame.rename_axis("measure").reset_index()


def _aligned(first: Any, second: Any, weights_first: Any = None,
             weights_second: Any = None) -> pd.DataFrame:
    """The two dates (and their weights) side by side, matched by label."""
    columns = {"first": first, "second": second, "weight_first": weights_first,
               "weight_second": weights_second}
    series = {}
    for name, given in columns.items():
        if given is None:
            continue
        series[name] = given if isinstance(given, pd.Series) else pd.Series(
            as_vector(given, name))
        series[name] = pd.to_numeric(series[name], errors="coerce").astype(float)
    for name, found in series.items():
        if found.index.has_duplicates:
            raise AnalysisInputError(f"{name} cite deux fois un même territoire, par exemple "
                                     f"{found.index[found.index.duplicated()][0]!r}")
    return pd.DataFrame(series)


def two_date_contrast(first: Any, second: Any, first_period: str, second_period: str, *,
                      weights_first: Any = None, weights_second: Any = None
                      ) -> TwoDateContrast:
    """Compare the territories' values at two dates.

    Parameters
    ----------
    first, second : Series or array-like
        One value per territory at each date, matched by index label (territory codes
        name the extremes); NaN for a missing one.
    first_period, second_period : str
        Names of the dates, for display.
    weights_first, weights_second : Series or array-like, optional
        Weights at each date for the mean and the deciles (extremes are unweighted).

    Returns
    -------
    TwoDateContrast

    Raises
    ------
    NotEnoughDataError
        Fewer than two territories with a value at both dates.

    Examples
    --------
    >>> import pandas as pd
    >>> first = pd.Series({"a": 10.0, "b": 20.0, "c": 40.0})
    >>> contrast = two_date_contrast(first, first * 1.1, "2013", "2018")
    >>> round(contrast.gap_change, 6), contrast.first_extremes.lowest
    (3.0, 'a')
    """
    frame = _aligned(first, second, weights_first, weights_second)
    complete = frame.notna().all(axis=1)
    kept = frame[complete]
    if len(kept) < 2:
        raise NotEnoughDataError(
            f"{len(kept)} territoire(s) ont une valeur aux deux dates ; il en faut au moins 2")
    first_weights = kept.get("weight_first")
    second_weights = kept.get("weight_second")
    return TwoDateContrast(
        first_period=str(first_period), second_period=str(second_period), n=len(kept),
        n_dropped=int((~complete).sum()),
        first_mean=float(np.average(kept["first"], weights=first_weights)),
        second_mean=float(np.average(kept["second"], weights=second_weights)),
        first_extremes=_extremes(kept["first"]), second_extremes=_extremes(kept["second"]),
        first_interdecile=interdecile_ratio(kept["first"], first_weights),
        second_interdecile=interdecile_ratio(kept["second"], second_weights))


def breakdown_by_class(first: Any, second: Any, classes: Any, *,
                       weights_first: Any = None, weights_second: Any = None,
                       first_period: str = "first", second_period: str = "second"
                       ) -> pd.DataFrame:
    r"""Mean value of each class of a typology at two dates, and its change.

    With the denominators of a ratio as weights, a class's weighted mean is the ratio of
    the sums over its territories (the value of the class as a whole):
    :math:`\sum_i w_i (a_i / w_i) / \sum_i w_i = \sum_i a_i / \sum_i w_i`.

    Parameters
    ----------
    first, second : Series or array-like
        One value per territory at each date, matched by label.
    classes : Series or array-like
        The class of each territory (density class, urban area type…), matched like
        ``first``.
    weights_first, weights_second : Series or array-like, optional
        Weights at each date.
    first_period, second_period : str
        Column names of the two dates.

    Returns
    -------
    DataFrame
        ``class, n`` (territories with a value at both dates), the two dates and
        ``change``; a last row ``all`` for every territory together.

    Examples
    --------
    >>> table = breakdown_by_class([1.0, 3.0, 10.0], [2.0, 4.0, 10.0], ["rural", "rural",
    ...                            "urbain"], first_period="2013", second_period="2018")
    >>> table[["class", "2013", "2018", "change"]].to_dict("records")[0]
    {'class': 'rural', '2013': 2.0, '2018': 3.0, 'change': 1.0}
    """
    frame = _aligned(first, second, weights_first, weights_second)
    labels = classes if isinstance(classes, pd.Series) else pd.Series(
        np.asarray(classes, dtype=object))
    frame["class"] = labels.reindex(frame.index)
    complete = frame.drop(columns="class").notna().all(axis=1)
    if (complete & frame["class"].isna()).any():
        raise AnalysisInputError(
            f"{int((complete & frame['class'].isna()).sum())} territoire(s) ont des valeurs "
            "mais aucune classe")
    kept = frame[complete].copy()
    kept["weight_first"] = kept.get("weight_first", 1.0)
    kept["weight_second"] = kept.get("weight_second", 1.0)
    kept["weighted_first"] = kept["first"] * kept["weight_first"]
    kept["weighted_second"] = kept["second"] * kept["weight_second"]
    sums = kept.groupby("class", sort=True)[
        ["weighted_first", "weight_first", "weighted_second", "weight_second"]].sum()
    sums.loc["all"] = sums.sum()
    counts = kept.groupby("class", sort=True).size()
    counts.loc["all"] = len(kept)
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pd.DataFrame({
            "n": counts,
            first_period: sums["weighted_first"] / sums["weight_first"],
            second_period: sums["weighted_second"] / sums["weight_second"]})
    table["change"] = table[second_period] - table[first_period]
    return table.rename_axis("class").reset_index()


@dataclass(frozen=True, kw_only=True, eq=False)
class ConvergenceFactSheet:
    """The baromètre's convergence fact sheet of one indicator.

    Attributes
    ----------
    contrast : TwoDateContrast
        Means, extremes and interdecile ratios at both dates.
    sigma : SigmaConvergence
        Coefficient of variation at both dates.
    beta : BetaConvergence or None
        When the number of years between the dates is known.
    by_class : DataFrame or None
        :func:`breakdown_by_class`, when classes were given.
    """

    contrast: TwoDateContrast
    sigma: SigmaConvergence
    beta: BetaConvergence | None
    by_class: pd.DataFrame | None


def convergence_fact_sheet(first: Any, second: Any, first_period: str, second_period: str,
                           *, weights_first: Any = None, weights_second: Any = None,
                           classes: Any = None, years: float | None = None,
                           log: bool | None = None) -> ConvergenceFactSheet:
    """Everything the baromètre says about the convergence of one indicator.

    Parameters
    ----------
    first, second : Series
        One value per territory at each date (EPCI, départements…), matched by label.
    first_period, second_period : str
        Names of the dates; years (``"2013"``, ``"2018"``) also give ``years``.
    weights_first, weights_second : Series, optional
        Weights at each date (the denominators of a ratio indicator).
    classes : Series, optional
        A typology of the territories, for :func:`breakdown_by_class`.
    years : float, optional
        Years between the dates, for beta-convergence (default: from the periods when
        both are years).
    log : bool, optional
        Beta-convergence on log growth (default when every value is positive) or on the
        change in points.

    Returns
    -------
    ConvergenceFactSheet

    Examples
    --------
    >>> import pandas as pd
    >>> first = pd.Series({"a": 10.0, "b": 20.0, "c": 40.0, "d": 80.0})
    >>> second = pd.Series({"a": 20.0, "b": 30.0, "c": 50.0, "d": 85.0})
    >>> sheet = convergence_fact_sheet(first, second, "2013", "2018")
    >>> sheet.beta.years, sheet.sigma.converging
    (5.0, True)
    """
    contrast = two_date_contrast(first, second, first_period, second_period,
                                 weights_first=weights_first, weights_second=weights_second)
    frame = _aligned(first, second, weights_first, weights_second)
    frame = frame[frame.notna().all(axis=1)]
    sigma_weights = None
    if "weight_first" in frame:
        sigma_weights = pd.DataFrame({
            first_period: frame["weight_first"],
            second_period: frame.get("weight_second", frame["weight_first"])})
    sigma = sigma_convergence(
        frame[["first", "second"]].set_axis([first_period, second_period], axis=1),
        sigma_weights)
    if years is None and str(first_period).isdigit() and str(second_period).isdigit():
        years = float(int(second_period) - int(first_period))
    beta = None
    if years:
        use_log = log if log is not None else bool(
            (frame["first"] > 0).all() and (frame["second"] > 0).all())
        beta = beta_convergence(frame["first"], frame["second"], years,
                                frame.get("weight_first"), log=use_log)
    by_class = None if classes is None else breakdown_by_class(
        first, second, classes, weights_first=weights_first, weights_second=weights_second,
        first_period=str(first_period), second_period=str(second_period))
    return ConvergenceFactSheet(contrast=contrast, sigma=sigma, beta=beta, by_class=by_class)
