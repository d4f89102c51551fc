"""Benchmark 3: 20 indicators aggregated to every level of the 2021 geography, and the
whole Comparateur converted to the 2026 geography.

The warehouse holds the référentiel, the Comparateur de territoires, Filosofi 2019
and 2020 (as in ``tests/conftest.py``) and two zonings of ANCT's programmes imported in
the 2021 geography (:data:`ZONINGS`); it is loaded once, untimed.

Product: ``IndicatorEngine(warehouse).compute(INDICATORS, LEVELS, 2021)`` (a new engine
each time, as a new request would get), latest period of each indicator, timed three
times:

* after an import: nothing derived from the warehouse's new content exists yet, neither
  in memory (:func:`cohesion.core.caching.materialised` emptied) nor on disk (the
  :mod:`cohesion.store.materialised` folder removed), so the commune inputs, the
  memberships and the passage tables are read from DuckDB, converted, and kept on disk;
* first computation in a process (the target): what a server finds after a start, or
  a CLI command: the memory emptied, the tables materialised by an earlier process
  mapped from disk;
* cached answer: a new engine right after, finding them in memory.

Baseline: pandas reads the same commune observations and commune areas from DuckDB,
pivots them to one column per variable × period, carries the 2020 Filosofi medians
(published in the 2022 geography) to the 2021 communes that did not change (one-to-one
rows of the passage table), merges the memberships of each level, and groups and sums.
Each indicator is summed over the communes that have all its inputs, with its coverage
(contributing communes / member communes), as the product does; ratios are ratios of
sums; published (non-additive) statistics are not aggregated above the communes.

Checks: for every indicator and level, the same territories, values equal to a relative
1e-9 (missing in the same places) and the same coverage.

Conversion: ``IndicatorEngine(warehouse).commune_values(keys, 2026)`` for the 32
variable × period of the Comparateur (published in the 2021 geography), first and
cached as above. Baseline: pandas pivots the same observations, chains the passage
tables 2021 → 2026 (merge, product of weights, groupby-sum), spreads counts with the
weights (largest remainders for integer counts of split communes, as the product),
sums them by commune of 2026 (missing if a part is missing), and carries the other
statistics to unchanged communes. Checks: the same communes, values equal to a
relative 1e-9, missing in the same places.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from benchmarks.common import (
    COMPARATEUR,
    FILOSOFI_2019,
    FILOSOFI_2020,
    BenchmarkResult,
    Context,
    best_of_both,
    check,
    record_timings,
)
from cohesion.core.caching import forget_materialised
from cohesion.importers.base import ImportOptions, run_import
from cohesion.importers.insee import Comparateur, FilosofiCommunes
from cohesion.importers.zonings import ZoningImporter
from cohesion.indicators.engine import IndicatorEngine
from cohesion.store import Warehouse
from cohesion.store.materialised import SUFFIX

NAME = "aggregate"
TITLE = ("20 indicators × 9 levels (2 imported zonings), vintage 2021; Comparateur converted to "
         "2026")
SPEEDUP = 5.0
CONVERSION_SECONDS = 0.2
TARGET = (f"aggregation ≥ {SPEEDUP:.0f}× pandas (first computation in a process); conversion "
          f"to 2026 < {CONVERSION_SECONDS} s (first in a process) and faster than pandas")
VINTAGE = 2021
CONVERT_TO = 2026
#: Imported zonings aggregated as the other levels: ANCT's Petites villes de demain (a CSV
#: of communes) and France services (GeoJSON, 2,519 communes, some in several zones),
#: both read in the 2021 geography; options as ``cohesion data import --option`` (the
#: PVD file's placeholder row 999999 dropped).
ZONINGS = {"PVD": ("programmes/pvd_2021/pvd_communes_2021-01_nopersonal.csv",
                   {"level": "PVD", "unknown_codes": "drop"}),
           "FS": ("programmes/anct_superposeur_2024/fs_geom.geojson", {})}
LEVELS = ["COM", "EPCI", "EPT", "ARR", "DEP", "REG", "FRA", *ZONINGS]
AREA = "superficie_km2"


@dataclass(frozen=True)
class Definition:
    """What the baseline needs to know of an indicator (mirrors the product's catalogue).

    ``kind`` is ``count``, ``ratio``, ``growth`` or ``published``; ``inputs`` are
    ``variable@period`` keys (numerator first for a ratio, start first for a growth).
    """

    kind: str
    inputs: tuple[str, ...]
    scale: float = 1.0


def ratio(numerator: str, denominator: str, scale: float, period: str = "2018") -> Definition:
    """A ratio of two variables at one period."""
    bottom = denominator if denominator == AREA else f"{denominator}@{period}"
    return Definition("ratio", (f"{numerator}@{period}", bottom), scale)


def count(variable: str, period: str = "2018") -> Definition:
    """A count at one period."""
    return Definition("count", (f"{variable}@{period}",))


#: The 20 indicators: built-in counts, ratios, a growth rate and published medians and
#: rates (Filosofi 2020, converted from the 2022 geography), and counts imported from
#: the Comparateur's columns that the catalogue does not name.
DEFINITIONS: dict[str, Definition] = {
    "population": count("population"),
    "evolution_population": Definition("growth", ("population@2013", "population@2018")),
    "densite_population": ratio("population", AREA, 1.0),
    "taux_chomage_15_64": ratio("chomeurs_15_64", "actifs_15_64", 100.0),
    "part_logements_vacants": ratio("logements_vacants", "logements", 100.0),
    "part_residences_secondaires": ratio("residences_secondaires", "logements", 100.0),
    "part_15_64_ans": ratio("population_15_64", "population", 100.0),
    "taux_activite_15_64": ratio("actifs_15_64", "population_15_64", 100.0),
    "emplois_pour_100_actifs": ratio("emplois", "actifs_15_64", 100.0),
    "revenu_median": Definition("published", ("revenu_median@2020",)),
    "taux_pauvrete": Definition("published", ("taux_pauvrete_60@2020",)),
    "p_emplt_sal": count("p_emplt_sal"),
    "p_rp_prop": count("p_rp_prop"),
    "etaz": count("etaz"),
    "etbe": count("etbe"),
    "etfz": count("etfz"),
    "etgu": count("etgu"),
    "etgz": count("etgz"),
    "etoq": count("etoq"),
    "ettef1": count("ettef1"),
}
INDICATORS = list(DEFINITIONS)
#: Inputs published in another geography than 2021 (read there, then carried over).
CONVERTED = {"revenu_median@2020": 2022, "taux_pauvrete_60@2020": 2022}


# -- setup ------------------------------------------------------------------------------

def loaded_warehouse(context: Context) -> Path:
    """The référentiel plus the Comparateur and Filosofi 2019/2020 (imported once)."""
    path = context.work / "aggregate.duckdb"
    shutil.copyfile(context.referentiel_file(), path)
    with Warehouse(path) as warehouse:
        run_import(warehouse, Comparateur(), context.sample(COMPARATEUR))
        run_import(warehouse, FilosofiCommunes(), context.sample(FILOSOFI_2019))
        run_import(warehouse, FilosofiCommunes(), context.sample(FILOSOFI_2020))
        for level, (sample, options) in ZONINGS.items():
            report = run_import(warehouse, ZoningImporter(), context.sample(sample),
                                options=ImportOptions(extra={**options, "vintage": VINTAGE}))
            check(report.vintage == VINTAGE, f"{level} imported in {report.vintage}")
    return path


def check_catalogue(warehouse: Warehouse) -> dict[str, str]:
    """Check that the chosen indicators exist, have periods, and are of the kind assumed.

    Returns the kind of each indicator as the product's catalogue names it.
    """
    catalogue = IndicatorEngine(warehouse).catalogue().set_index("id")
    kinds = {"Count": "count", "Ratio": "ratio", "AnnualGrowth": "growth",
             "Published": "published"}
    for indicator, definition in DEFINITIONS.items():
        check(indicator in catalogue.index, f"{indicator} is not in the catalogue")
        row = catalogue.loc[indicator]
        check(len(row["periods"]) > 0, f"{indicator} has no period in the warehouse")
        check(kinds.get(row["kind"]) == definition.kind,
              f"{indicator} is a {row['kind']}, the baseline assumes {definition.kind}")
    return {i: str(catalogue.loc[i, "kind"]) for i in INDICATORS}


# -- the two implementations ------------------------------------------------------------

def cold(warehouse: Warehouse) -> Warehouse:
    """Setup of a first computation in a new process: nothing in memory."""
    forget_materialised()
    return warehouse


def after_import(warehouse: Warehouse) -> Warehouse:
    """Setup of a first computation after an import: nothing in memory nor on disk."""
    assert warehouse.path is not None
    shutil.rmtree(f"{warehouse.path}{SUFFIX}", ignore_errors=True)
    return cold(warehouse)


def product_compute(warehouse: Warehouse) -> dict[tuple[str, str], pd.DataFrame]:
    """The product: a new engine computing every indicator at every level."""
    results = IndicatorEngine(warehouse).compute(INDICATORS, LEVELS, VINTAGE)
    return {(r.indicator.id, r.level): r.frame for r in results}


def read_inputs(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Commune inputs of the 2021 geography: one column per ``variable@period``."""
    keys = sorted({k for d in DEFINITIONS.values() for k in d.inputs} - {AREA})
    communes = connection.execute(
        "SELECT code FROM territories WHERE level = 'COM' AND vintage = ? ORDER BY code",
        [VINTAGE]).df()["code"]
    wanted = pd.DataFrame({"key": keys, "variable": [k.split("@")[0] for k in keys],
                           "period": [k.split("@")[1] for k in keys],
                           "vintage": [CONVERTED.get(k, VINTAGE) for k in keys]})
    connection.register("wanted", wanted)
    try:
        observations = connection.execute(
            """SELECT w.key, o.vintage, o.code, o.value FROM observations o
               JOIN wanted w USING (variable, period, vintage)
               WHERE o.level = 'COM'""").df()
    finally:
        connection.unregister("wanted")
    wide = observations.pivot(index=["vintage", "code"], columns="key", values="value")
    inputs = wide.loc[VINTAGE].reindex(communes)
    # values published in the 2022 geography: kept for communes unchanged since 2021
    passage = connection.execute(
        "SELECT from_code, to_code FROM passages WHERE from_vintage = ? AND to_vintage = ?",
        [2022, VINTAGE]).df()
    one_to_one = passage[~passage["from_code"].duplicated(keep=False)
                         & ~passage["to_code"].duplicated(keep=False)]
    later = wide.loc[2022]
    for key in CONVERTED:
        carried = one_to_one.assign(value=one_to_one["from_code"].map(later[key]))
        inputs[key] = carried.set_index("to_code")["value"].reindex(communes).to_numpy()
    area = connection.execute(
        "SELECT code, area_km2 FROM geometries WHERE level = 'COM' AND vintage = ?",
        [VINTAGE]).df().set_index("code")["area_km2"]
    inputs[AREA] = area.reindex(communes).to_numpy()
    inputs.index.name = "code"
    return inputs


def indicator_value(definition: Definition, inputs: pd.DataFrame) -> np.ndarray:
    """The indicator from its (summed) inputs."""
    columns = [inputs[k].to_numpy(dtype="float64") for k in definition.inputs]
    with np.errstate(divide="ignore", invalid="ignore"):
        if definition.kind == "ratio":
            top, bottom = columns
            return np.where(bottom > 0, definition.scale * top / bottom, np.nan)
        if definition.kind == "growth":
            start, end = columns
            years = int(definition.inputs[1][-4:]) - int(definition.inputs[0][-4:])
            return np.where(start > 0, 100 * ((end / start) ** (1 / years) - 1), np.nan)
    return columns[0]


def baseline_compute(connection: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], pd.DataFrame]:
    """The baseline: pivot, merge memberships, groupby-sum, ratios of sums."""
    inputs = read_inputs(connection)
    links = connection.execute(
        "SELECT code, parent_level, parent_code FROM memberships "
        "WHERE vintage = ? AND level = 'COM'", [VINTAGE]).df()
    # each indicator's inputs, kept only where the commune has all of them
    masked = {}
    for indicator, definition in DEFINITIONS.items():
        if definition.kind == "published":
            continue
        own = inputs[list(definition.inputs)]
        complete = own.notna().all(axis=1)
        for key in definition.inputs:
            masked[f"{indicator}|{key}"] = own[key].where(complete)
        masked[f"{indicator}|@complete"] = complete.astype("int64")
    masked = pd.DataFrame(masked, index=inputs.index)

    results: dict[tuple[str, str], pd.DataFrame] = {}
    for indicator, definition in DEFINITIONS.items():
        value = indicator_value(definition, inputs)
        results[(indicator, "COM")] = pd.DataFrame({
            "code": inputs.index, "value": value,
            "coverage": np.where(np.isnan(value), 0.0, 1.0)})
    for level in LEVELS[1:]:
        members = links[links["parent_level"] == level]
        members = members[members["code"].isin(inputs.index)]
        joined = members[["code", "parent_code"]].merge(masked, left_on="code",
                                                        right_index=True)
        grouped = joined.drop(columns="code").groupby("parent_code")
        sums = grouped.sum(min_count=1)
        size = grouped.size()
        for indicator, definition in DEFINITIONS.items():
            if definition.kind == "published":  # not aggregable: missing
                results[(indicator, level)] = pd.DataFrame({
                    "code": sums.index.to_numpy(), "value": np.nan, "coverage": np.nan})
                continue
            own = sums[[f"{indicator}|{k}" for k in definition.inputs]]
            own.columns = list(definition.inputs)
            contributing = sums[f"{indicator}|@complete"]
            results[(indicator, level)] = pd.DataFrame({
                "code": sums.index.to_numpy(), "value": indicator_value(definition, own),
                "coverage": (contributing / size).to_numpy()})
    return results


def compare(product: dict[tuple[str, str], pd.DataFrame],
            baseline: dict[tuple[str, str], pd.DataFrame]) -> tuple[int, int]:
    """Check every indicator × level; return (frames, non-missing values) compared."""
    check(set(product) == set(baseline), "not the same indicators × levels")
    values = 0
    for key, frame in product.items():
        ours = frame.set_index("code").sort_index()
        theirs = baseline[key].set_index("code").sort_index()
        check(ours.index.equals(theirs.index),
              f"{key}: territories differ ({len(ours)} vs {len(theirs)})")
        a, b = ours["value"].to_numpy(dtype="float64"), theirs["value"].to_numpy(dtype="float64")
        close = np.isclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True)
        if not close.all():
            first = int(np.argmin(close))
            raise_at = ours.index[first]
            check(False, f"{key}: {int((~close).sum())} values differ, e.g. {raise_at}: "
                  f"product {a[first]}, baseline {b[first]}")
        coverage_a = ours["coverage"].to_numpy(dtype="float64")
        coverage_b = theirs["coverage"].to_numpy(dtype="float64")
        check(bool(np.allclose(coverage_a, coverage_b, rtol=1e-12, equal_nan=True)),
              f"{key}: coverage differs")
        values += int(np.isfinite(a).sum())
    return len(product), values


# -- conversion of the whole Comparateur --------------------------------------------------

def comparateur_keys(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """The ``variable@period`` of the Comparateur's commune observations."""
    found = connection.execute(
        """SELECT DISTINCT o.variable || '@' || o.period AS key FROM observations o
           JOIN datasets d USING (dataset_id)
           WHERE d.importer = 'comparateur' AND o.level = 'COM' ORDER BY key""").df()
    return list(found["key"])


def product_convert(work: tuple[Warehouse, list[str]]) -> pd.DataFrame:
    """The product: a new engine reading the Comparateur in the 2026 geography."""
    warehouse, keys = work
    return IndicatorEngine(warehouse).commune_values(keys, CONVERT_TO)[0]


def baseline_convert(work: tuple[duckdb.DuckDBPyConnection, list[str]]) -> pd.DataFrame:
    """The baseline: pivot, chain the passage tables, spread, sum, carry the rest."""
    connection, keys = work
    # a series may be filled by several files (Filosofi 2019 completes the Comparateur)
    observations = connection.execute(
        """SELECT code, variable || '@' || period AS key, value FROM observations
           WHERE level = 'COM' AND vintage = ?
             AND list_contains(?, variable || '@' || period)""", [VINTAGE, keys]).df()
    wide = observations.pivot(index="code", columns="key", values="value")[keys]
    additive = connection.execute("SELECT variable, additive FROM variables").df()
    additive = dict(zip(additive["variable"], additive["additive"], strict=True))
    counts = [k for k in keys if additive.get(k.split("@")[0], False)]
    others = [k for k in keys if k not in counts]
    passage = None
    for year in range(VINTAGE, CONVERT_TO):
        step = connection.execute(
            "SELECT from_code, to_code, weight FROM passages "
            "WHERE from_vintage = ? AND to_vintage = ?", [year, year + 1]).df()
        if passage is None:
            passage = step
            continue
        joined = passage.merge(step, left_on="to_code", right_on="from_code",
                               suffixes=("", "_next"))
        joined["weight"] = joined["weight"] * joined["weight_next"]
        passage = joined.groupby(["from_code", "to_code_next"], as_index=False)[
            "weight"].sum().rename(columns={"to_code_next": "to_code"})
    targets = passage.groupby("from_code")["to_code"].transform("size")
    sources = passage.groupby("to_code")["from_code"].transform("size")
    rows = passage[passage["from_code"].isin(wide.index)].reset_index(drop=True)
    split = rows.groupby("from_code")["to_code"].transform("size").to_numpy() > 1
    values = wide.loc[rows["from_code"], counts].to_numpy()
    shares = values * rows["weight"].to_numpy()[:, None]
    for j in range(len(counts)):  # integer counts of a split commune: largest remainders
        finite = values[:, j][np.isfinite(values[:, j])]
        if not (split.any() and finite.size and np.all(finite == np.round(finite))):
            continue
        part = pd.DataFrame({"group": rows["from_code"][split], "share": shares[split, j],
                             "total": values[split, j]}).dropna()
        part["floor"] = np.floor(part["share"])
        lacking = (part["total"] - part.groupby("group")["floor"].transform("sum")).round()
        rank = part.assign(rest=part["share"] - part["floor"]).sort_values(
            "rest", ascending=False, kind="stable").groupby("group").cumcount()
        shares[part.index.to_numpy(), j] = part["floor"] + (rank.reindex(part.index)
                                                           < lacking)
    spread = pd.DataFrame(shares, columns=counts).assign(to_code=rows["to_code"].to_numpy())
    summed = spread.groupby("to_code").sum(min_count=1)
    reached_by_missing = spread[counts].isna().assign(to_code=spread["to_code"]).groupby(
        "to_code").any()
    converted = summed.mask(reached_by_missing)
    unchanged = passage[(targets == 1).to_numpy() & (sources == 1).to_numpy()]
    carried = wide.reindex(unchanged["from_code"])[others].set_axis(
        unchanged["to_code"].to_numpy())
    everything = pd.Index(passage["to_code"].unique()).sort_values()
    return pd.concat([converted.reindex(everything), carried.reindex(everything)],
                     axis=1)[keys]


def compare_conversion(product: pd.DataFrame, baseline: pd.DataFrame) -> tuple[int, int]:
    """Check the two conversions; return (communes, non-missing values) compared."""
    check(list(product.index) == list(baseline.index),
          f"communes differ ({len(product)} vs {len(baseline)})")
    check(list(product.columns) == list(baseline.columns), "variables differ")
    a, b = product.to_numpy(dtype="float64"), baseline.to_numpy(dtype="float64")
    close = np.isclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True)
    if not close.all():
        row, column = np.argwhere(~close)[0]
        check(False, f"{int((~close).sum())} converted values differ, e.g. "
              f"{product.index[row]} {product.columns[column]}: product {a[row, column]}, "
              f"baseline {b[row, column]}")
    return len(product), int(np.isfinite(a).sum())


def run(context: Context, result: BenchmarkResult) -> None:
    """Load the warehouse once, then time every computation and compare them."""
    print("  (loading Comparateur and Filosofi 2019/2020 once, untimed)", flush=True)
    path = loaded_warehouse(context)
    with Warehouse(path, read_only=True) as warehouse:
        kinds = check_catalogue(warehouse)
        print("  aggregation", flush=True)
        timings = best_of_both(
            {"imported": (product_compute, lambda: after_import(warehouse)),
             "first": (product_compute, lambda: cold(warehouse)),
             "cached": (product_compute, lambda: warehouse),
             "baseline": (baseline_compute, lambda: warehouse.connection)},
            context.repeat, warmup=True)
        print(f"  conversion of the Comparateur {VINTAGE} → {CONVERT_TO}", flush=True)
        keys = comparateur_keys(warehouse.connection)
        conversions = best_of_both(
            {"imported": (product_convert, lambda: (after_import(warehouse), keys)),
             "first": (product_convert, lambda: (cold(warehouse), keys)),
             "cached": (product_convert, lambda: (warehouse, keys)),
             "baseline": (baseline_convert, lambda: (warehouse.connection, keys))},
            context.repeat, warmup=True)
    product, baseline = timings["first"], timings["baseline"]
    record_timings(result, product, baseline)
    for mode in ("imported", "first", "cached"):
        frames, values = compare(timings[mode].result, baseline.result)
    result.checks.append(f"{frames} indicator × level frames identical (rtol 1e-9, "
                         f"coverage too; after an import, first and cached), {values:,} "
                         "non-missing values")
    for mode in ("imported", "first", "cached"):
        communes, converted = compare_conversion(conversions[mode].result,
                                                 conversions["baseline"].result)
    result.checks.append(f"Comparateur in {CONVERT_TO}: {communes:,} communes × "
                         f"{conversions['first'].result.shape[1]} variables identical "
                         f"(rtol 1e-9; after an import, first and cached), {converted:,} "
                         "non-missing values")
    ratios = {f"{work}_{mode}": found["baseline"].best / found[mode].best
              for work, found in (("aggregation", timings), ("conversion", conversions))
              for mode in ("imported", "first", "cached")}
    aggregation_ok = ratios["aggregation_first"] >= SPEEDUP
    conversion_ok = conversions["first"].best < CONVERSION_SECONDS \
        and ratios["conversion_first"] > 1
    for work, found, ok, target in (
            ("aggregation", timings, aggregation_ok, f"pandas/first ≥ {SPEEDUP:.0f}"),
            (f"conversion {VINTAGE} → {CONVERT_TO}", conversions, conversion_ok,
             f"first < {CONVERSION_SECONDS} s")):
        name = work.split()[0]
        print(f"  {work}: after an import {found['imported'].best:.3f} s (pandas/it "
              f"{ratios[name + '_imported']:.1f}), first in a process "
              f"{found['first'].best:.3f} s (pandas/it {ratios[name + '_first']:.1f}), "
              f"cached {found['cached'].best:.3f} s (pandas/it {ratios[name + '_cached']:.1f}),"
              f" pandas {found['baseline'].best:.3f} s (target {target}) -> "
              f"{'PASS' if ok else 'FAIL'}")
    result.passed = aggregation_ok and conversion_ok
    result.details.update({
        f"{name}_s": {mode: found[mode].best for mode in found} | {
            f"{mode}_times": [round(t, 4) for t in found[mode].times] for mode in found}
        for name, found in (("aggregation", timings), ("conversion", conversions))})
    result.details["ratios"] = {k: round(v, 2) for k, v in ratios.items()}
    by_kind: dict[str, int] = {}
    for kind in kinds.values():
        by_kind[kind] = by_kind.get(kind, 0) + 1
    result.details.update({"indicators": kinds, "levels": LEVELS, "kinds": by_kind})
