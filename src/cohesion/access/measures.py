"""From times per origin to indicators: what an accessibility measure stores.

A *measure* is one kind of equipment reached with one travel profile
(``d201_marche``: the médecins généralistes on foot). Its results are stored like any
imported data, as variables of the communes from which the indicator engine computes
every level as a **ratio of sums** — never an average of commune shares:

=====================================  ==============================================
variable                               value for a commune
=====================================  ==============================================
``pop_acces_{m}``                      residents of the origins measured
``pop_acces_{m}_{n}min``               residents within *n* minutes of the equipment
``…_qpv`` / ``…_hors_qpv``             the same for residents of a QPV, and for those
                                       outside any QPV in a commune that has one
``equip_acces_{m}_{c}min_pond``        Σ residents × équipements within *c* minutes
``fca_acces_{m}_pond``                 Σ residents × 2SFCA accessibility
=====================================  ==============================================

and the indicators they define (:func:`definitions`): ``acces_{m}_{n}min`` (share of
residents within *n* minutes, %), its ``_qpv`` and ``_hors_qpv`` variants, ``nb_acces_{m}``
(équipements within *c* minutes, per resident on average), ``fca_acces_{m}`` (2SFCA, per
1,000 residents) and ``temps_acces_{m}`` (median time, minutes; a median does not add
up, so it is stored for each commune, QPV and each territory whose communes are all
measured).

The QPV themselves are territories: their residents' figures are stored at the ``QPV``
level, in the vintage of their generation.

Examples
--------
>>> spec = Measure("d201_marche", "médecin généraliste", "à pied", (5, 15))
>>> result = MeasureResult(spec, population=np.array([10.0, 30.0, 60.0]),
...                        seconds=np.array([120.0, 700.0, np.inf]),
...                        commune=np.array(["33063", "33063", "33063"], dtype=object),
...                        zone=np.array([IN_QPV, OUTSIDE_QPV, OUTSIDE_QPV], dtype=object),
...                        qpv=np.array(["QN03301M", None, None], dtype=object))
>>> frame = commune_observations(result, {"33063"})
>>> frame.set_index("variable")["value"].to_dict()["pop_acces_d201_marche_15min"]
40.0
>>> round(weighted_median(np.array([120.0, 700.0, np.inf]), np.array([10.0, 30.0, 60.0])), 1)
inf
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

IN_QPV, OUTSIDE_QPV, NO_QPV = "qpv", "hors_qpv", "sans_qpv"
ZONES = (IN_QPV, OUTSIDE_QPV, NO_QPV)
ZONE_LABELS = {IN_QPV: "en QPV", OUTSIDE_QPV: "hors QPV dans les communes ayant un QPV",
               NO_QPV: "communes sans QPV"}
#: The suffix of the variables and indicators of a zone (all residents: none).
ZONE_SUFFIX = {IN_QPV: "_qpv", OUTSIDE_QPV: "_hors_qpv"}
BEYOND = "beyond_limit"


@dataclass(frozen=True)
class Measure:
    """What is measured: an equipment, a profile, thresholds (minutes).

    Attributes
    ----------
    key : str
        ``{equipment}_{profile}``, lowercase (``d201_marche``, ``france_services_voiture``).
    equipment, profile : str
        French labels (``médecin généraliste``, ``à pied``).
    thresholds : tuple of int
        Minutes of the shares (5, 10, 15, 20 by default).
    catchment : int
        Minutes of the counts of équipements reachable and of the 2SFCA catchment.
    source : str
        Producers of the inputs, for the indicator definitions.
    method : str
        How times were measured (on a network, or the crow-fly fallback), in French.
    """

    key: str
    equipment: str
    profile: str
    thresholds: tuple[int, ...] = (5, 10, 15, 20)
    catchment: int = 15
    source: str = ""
    method: str = ""

    @property
    def base(self) -> str:
        """The stem of the measure's variables and indicators."""
        return f"acces_{self.key}"


@dataclass
class MeasureResult:
    """Times of one measure for every origin (one row a cell)."""

    measure: Measure
    population: np.ndarray
    seconds: np.ndarray  # inf beyond the computation's limit
    commune: np.ndarray  # code, or None outside the référentiel's contours
    zone: np.ndarray  # IN_QPV, OUTSIDE_QPV, NO_QPV, or None where QPV are not covered
    qpv: np.ndarray  # code of the QPV holding the origin, or None
    reachable: np.ndarray | None = None  # équipements within the catchment
    fca: np.ndarray | None = None  # 2SFCA accessibility (équipements per resident)
    notes: list[str] = field(default_factory=list)


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The value below which half the weight lies (the lower median; inf counts).

    >>> weighted_median(np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0, 5.0]))
    2.0
    """
    if len(values) == 0 or not np.nansum(weights) > 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _sums(result: MeasureResult, group: np.ndarray, rows: np.ndarray,
          suffix: str = "") -> dict[str, pd.Series]:
    """The additive variables of ``rows``, summed by ``group`` (one series a variable)."""
    measure = result.measure
    population = result.population[rows]
    minutes = result.seconds[rows] / 60.0
    keys = pd.Index(group[rows])
    columns = {f"pop_{measure.base}{suffix}": population}
    for n in measure.thresholds:
        columns[f"pop_{measure.base}_{n}min{suffix}"] = np.where(minutes <= n, population, 0.0)
    if not suffix and result.reachable is not None:
        columns[f"equip_{measure.base}_{measure.catchment}min_pond"] = \
            population * result.reachable[rows]
    if not suffix and result.fca is not None:
        columns[f"fca_{measure.base}_pond"] = population * result.fca[rows]
    frame = pd.DataFrame(columns, index=keys)
    return {name: column for name, column in frame.groupby(level=0).sum().items()}


def _long(series: dict[str, pd.Series], level: str) -> pd.DataFrame:
    frames = [pd.DataFrame({"variable": name, "level": level, "code": values.index,
                            "value": values.to_numpy(dtype="float64")})
              for name, values in series.items()]
    return pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame(columns=["variable", "level", "code", "value"])


def grouped_medians(values: np.ndarray, weights: np.ndarray, group: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`weighted_median` of each group at once (one sort, no loop over groups).

    >>> codes, medians = grouped_medians(np.array([3.0, 1.0, 2.0, 9.0]),
    ...                                  np.array([1.0, 1.0, 5.0, 1.0]),
    ...                                  np.array(["a", "a", "a", "b"]))
    >>> codes.tolist(), medians.tolist()
    (['a', 'b'], [2.0, 9.0])
    """
    codes, inverse = np.unique(np.asarray(group).astype(str), return_inverse=True)
    if not len(codes):
        return codes, np.array([])
    order = np.lexsort((values, inverse))  # stable: ties keep their order, as in one group
    sorted_group, sorted_values = inverse[order], values[order]
    cumulative = np.cumsum(weights[order])
    start = np.searchsorted(sorted_group, np.arange(len(codes)))
    end = np.append(start[1:], len(sorted_group)) - 1
    before = np.where(start > 0, cumulative[np.maximum(start - 1, 0)], 0.0)
    total = cumulative[end] - before
    at = np.minimum(np.searchsorted(cumulative, before + total / 2), end)
    return codes, np.where(total > 0, sorted_values[at], np.nan)


def _medians(result: MeasureResult, rows: np.ndarray, group: np.ndarray,
             level: str) -> pd.DataFrame:
    """Median times of the origins ``rows`` by ``group`` (one label per row)."""
    codes, values = grouped_medians(result.seconds[rows] / 60.0, result.population[rows],
                                    group)
    return pd.DataFrame({"variable": f"temps_{result.measure.base}", "level": level,
                         "code": codes, "value": values})


def commune_observations(result: MeasureResult, complete: set[str]) -> pd.DataFrame:
    """The measure's variables for the communes of ``complete`` (fully measured).

    Returns
    -------
    DataFrame
        ``variable, level, code, value``; a commune's QPV variants only where its
        origins' QPV zone is known.
    """
    commune = np.asarray(result.commune, dtype=object)
    rows = np.flatnonzero(pd.Series(commune).isin(complete).to_numpy())
    frames = [_long(_sums(result, commune, rows), "COM"),
              _medians(result, rows, commune[rows], "COM")]
    zone = np.asarray(result.zone, dtype=object)
    # the communes whose every origin has a known zone, one of them in or near a QPV
    by_commune = pd.DataFrame({"unknown": pd.isna(zone[rows]),
                               "qpv": np.isin(zone[rows], [IN_QPV, OUTSIDE_QPV])}
                              ).groupby(commune[rows]).any()
    with_qpv = set(by_commune.index[by_commune["qpv"] & ~by_commune["unknown"]])
    in_with_qpv = pd.Series(commune).isin(with_qpv).to_numpy()
    for name, suffix in ZONE_SUFFIX.items():
        chosen = np.flatnonzero(in_with_qpv & (zone == name))
        sums = _sums(result, commune, chosen, suffix)
        # a commune with a QPV but no origin in one zone has 0 there, not nothing
        sums = {variable: values.reindex(sorted(with_qpv), fill_value=0.0)
                for variable, values in sums.items()} if sums else {
            variable: pd.Series(0.0, index=sorted(with_qpv))
            for variable in _variable_names(result.measure, suffix)}
        frames.append(_long(sums, "COM"))
    return _finish(pd.concat(frames, ignore_index=True))


def _variable_names(measure: Measure, suffix: str) -> list[str]:
    return [f"pop_{measure.base}{suffix}",
            *[f"pop_{measure.base}_{n}min{suffix}" for n in measure.thresholds]]


def qpv_observations(result: MeasureResult) -> pd.DataFrame:
    """The measure's figures of each QPV holding origins (level ``QPV``)."""
    qpv = np.asarray(result.qpv, dtype=object)
    rows = np.flatnonzero(pd.notna(qpv))
    if len(rows) == 0:
        return _finish(pd.DataFrame(columns=["variable", "level", "code", "value"]))
    sums = _sums(result, qpv, rows)
    sums = {k: v for k, v in sums.items() if k.startswith("pop_")}
    return _finish(pd.concat([_long(sums, "QPV"), _medians(result, rows, qpv[rows], "QPV")],
                             ignore_index=True))


def parent_medians(result: MeasureResult, memberships: pd.DataFrame,
                   complete: set[str], populations: pd.Series,
                   share: float = 0.95) -> pd.DataFrame:
    """Median times of the territories above communes that are measured (almost) whole.

    Parameters
    ----------
    memberships : DataFrame
        ``code, parent_level, parent_code``: every commune of the vintage in its parents.
    complete : set of str
        The communes measured whole.
    populations : Series
        Census population of each commune (by code), to weigh what is missing.
    share : float
        A territory gets a median when its measured communes hold at least this share
        of its population.
    """
    commune = pd.Series(np.asarray(result.commune, dtype=object), name="code")
    links = memberships.assign(population=memberships["code"].map(populations).fillna(0.0),
                               measured=memberships["code"].isin(complete))
    links = links.assign(held=links["population"].where(links["measured"], 0.0))
    totals = links.groupby(["parent_level", "parent_code"])[["held", "population"]].sum()
    whole = totals.index[totals["held"] / totals["population"].clip(lower=1.0) >= share]
    eligible = links.set_index(["parent_level", "parent_code"]).loc[whole].reset_index()
    eligible = eligible[eligible["measured"]]
    frames = []
    for level, parents in eligible.groupby("parent_level"):
        # an origin counts in every parent of its commune at this level
        joined = commune.reset_index().merge(parents[["code", "parent_code"]], on="code")
        frames.append(_medians(result, joined["index"].to_numpy(),
                               joined["parent_code"].to_numpy(dtype=object), str(level)))
    if not frames:
        return _finish(pd.DataFrame(columns=["variable", "level", "code", "value"]))
    return _finish(pd.concat(frames, ignore_index=True))


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    value = frame["value"].to_numpy(dtype="float64")
    finite = np.isfinite(value)
    return frame.assign(value=np.where(finite, value, np.nan),
                        missing=np.where(finite, None, BEYOND)).reset_index(drop=True)


def definitions(measure: Measure) -> pd.DataFrame:
    """The indicators of a measure, as rows of ``indicator_definitions``."""
    base, source = measure.base, measure.source
    what = f"{measure.equipment} {measure.profile}"
    rows: list[dict[str, object]] = []
    method = f" Temps mesuré {measure.method}." if measure.method else ""
    for suffix, audience in (("", ""), ("_qpv", " (habitants des QPV)"),
                             ("_hors_qpv", " (hors QPV, communes ayant un QPV)")):
        for n in measure.thresholds:
            rows.append({
                "indicator": f"{base}_{n}min{suffix}", "kind": "Ratio",
                "label": f"Part de la population à moins de {n} min : {what}{audience}",
                "unit": "%", "numerator": f"pop_{base}_{n}min{suffix}",
                "denominator": f"pop_{base}{suffix}", "scale": 100.0,
                "direction": "higher_is_better", "source": source,
                "description": f"Habitants à {n} minutes au plus de l'équipement le plus "
                               f"proche, rapportés aux habitants mesurés.{method}"})
    rows.append({
        "indicator": f"temps_{base}", "kind": "Published",
        "label": f"Temps médian d'accès : {what}", "unit": "min",
        "variable": f"temps_{base}", "direction": "lower_is_better", "source": source,
        "description": "La moitié des habitants est à moins de ce temps de l'équipement le "
                       f"plus proche (médiane pondérée par la population).{method}"})
    rows.append({
        "indicator": f"nb_{base}", "kind": "Ratio",
        "label": f"Équipements accessibles en {measure.catchment} min : {what}",
        "unit": "équipements", "numerator": f"equip_{base}_{measure.catchment}min_pond",
        "denominator": f"pop_{base}", "scale": 1.0, "direction": "higher_is_better",
        "source": source,
        "description": f"Nombre moyen d'équipements à moins de {measure.catchment} minutes, "
                       f"par habitant (moyenne pondérée par la population).{method}"})
    rows.append({
        "indicator": f"fca_{base}", "kind": "Ratio",
        "label": f"Offre accessible (2SFCA, {measure.catchment} min) : {what}",
        "unit": "pour 1 000 hab.", "numerator": f"fca_{base}_pond",
        "denominator": f"pop_{base}", "scale": 1000.0, "direction": "higher_is_better",
        "source": source,
        "description": "Méthode des aires flottantes à deux étapes (2SFCA, Luo et Wang 2003) "
                       f"sans décroissance dans une aire de {measure.catchment} minutes : "
                       "équipements rapportés à la population de leur aire, sommés sur les "
                       f"équipements accessibles, pour 1 000 habitants.{method}"})
    frame = pd.DataFrame(rows)
    for column in ("numerator", "denominator", "variable"):
        if column not in frame:
            frame[column] = None
    return frame


def variables(measure: Measure, names: Iterable[str]) -> pd.DataFrame:
    """Descriptions of the stored variables (additive except the medians)."""
    rows = []
    for name in sorted(set(names)):
        median = name.startswith("temps_")
        rows.append({"variable": name, "label": _variable_label(measure, name),
                     "unit": "min" if median else "habitants",
                     "additive": not median, "source_column": None})
    return pd.DataFrame(rows)


def _variable_label(measure: Measure, name: str) -> str:
    what = f"{measure.equipment} {measure.profile}"
    if name.startswith("temps_"):
        return f"Temps médian d'accès : {what}"
    if name.startswith("equip_"):
        return f"Habitants × équipements à moins de {measure.catchment} min : {what}"
    if name.startswith("fca_"):
        return f"Habitants × accessibilité 2SFCA : {what}"
    zone = next((ZONE_LABELS[z] for z, s in ZONE_SUFFIX.items() if name.endswith(s)), "")
    minutes = next((n for n in measure.thresholds
                    if f"_{n}min" in name), None)
    head = f"Habitants à moins de {minutes} min" if minutes else "Habitants mesurés"
    return f"{head} : {what}" + (f" ({zone})" if zone else "")


def threshold_labels(thresholds: Sequence[int]) -> list[str]:
    """``5 min``, ``10 min``… for display."""
    return [f"{n} min" for n in thresholds]
