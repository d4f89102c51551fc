"""Benchmark 10: the funding indicators of every year at every level, geography 2026.

The warehouse holds the référentiel, the Comparateur and Filosofi 2019/2020, the
contrats de ville 2024 (level ``CV``), the 12 files of adultes-relais and FONJEP posts
2020-2025 and the dotations d'investissement 2019; it is loaded once, untimed.

Product: a new ``IndicatorEngine`` computes, for each year 2019-2025, every funding
indicator with values that year (the totals of each dispositif, money per inhabitant,
posts per 1,000 inhabitants, money per poor person and posts per 1,000 poor persons;
the per-QPV-inhabitant ones are left out: these samples have no QPV population) at the
levels CV, EPCI, DEP, REG and FRA of the 2026 geography.

Baseline: pandas reads ``funding_lines``, the commune observations (population 2018,
poverty rate and persons of the ménages fiscaux 2019 and 2020), the passage tables and
the memberships from the same DuckDB file, then:

- converts the commune figures to 2026 (counts by the passage weights, integers shared
  by the largest remainder as INSEE counts are; a rate only to unchanged communes) and
  sums them over the communes of each territory that have them;
- sums the lines per département (every line with one), per contrat de ville of the
  level and, for grants, per commune (converted to 2026 like a count);
- sums those totals up to the territories they lie in (all their communes in it): the
  départements per région and for France, the contrats per EPCI; the grants to
  communes per EPCI (plus the grants to the EPCI itself, by its SIREN) and contrat de
  ville;
- takes the ratios, with the population of 2018 and the poor of the nearest Filosofi
  year (2019 for 2019, 2020 after).

Checks: for every indicator × level × year, the same territories and values equal to
a relative 1e-9, missing in the same places.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from benchmarks.common import (
    BenchmarkResult,
    Context,
    best_of_both,
    check,
    loaded_warehouse,
    record_timings,
)
from cohesion.importers.base import ImportOptions, run_import
from cohesion.importers.funding import DotationsInvestissement, PostesPolitiqueVille
from cohesion.importers.zonings import ZoningImporter
from cohesion.indicators.engine import IndicatorEngine
from cohesion.policies.funding import DISPOSITIFS
from cohesion.policies.indicators import FUNDING_INDICATORS
from cohesion.store import Warehouse

NAME = "funding"
TITLE = "Funding indicators × 5 levels × 7 years, vintage 2026"
TARGET = "not slower than pandas"
VINTAGE = 2026
LEVELS = ["CV", "EPCI", "DEP", "REG", "FRA"]
YEARS = [str(year) for year in range(2019, 2026)]
POSTS = "social_innovation/anct_politique_ville_postes"
DOTATIONS = ("subventions/anct_dotations_investissement_2019/"
             "projets_dotations_investissement_2019.xlsx")
#: Where each kind of total comes from, by level (as the indicators declare it).
POST_SOURCES = {"DEP": "DEP", "REG": "DEP", "FRA": "DEP", "CV": "CV", "EPCI": "CV"}
GRANT_SOURCES = {"DEP": "DEP", "REG": "DEP", "FRA": "DEP", "CV": "COM", "EPCI": "EPCI"}
#: Denominators: id suffix → (variable, scale of the money, scale of the posts).
DENOMINATORS = {"par_habitant": "population", "pour_1000_habitants": "population",
                "par_personne_pauvre": "personnes_pauvres",
                "pour_1000_personnes_pauvres": "personnes_pauvres"}
POPULATION_PERIODS = ["2013", "2018"]
FILOSOFI_PERIODS = ["2019", "2020"]


def indicators() -> dict[str, tuple[str, str, str | None, float]]:
    """Benchmarked indicators: id → (dispositif, measure, denominator, scale)."""
    chosen = {}
    for dispositif in DISPOSITIFS.values():
        measures = [(dispositif.amount_variable, "montant")]
        if dispositif.posts_variable:
            measures.append((dispositif.posts_variable, "postes"))
        for variable, measure in measures:
            chosen[variable] = (dispositif.id, measure, None, 1.0)
            for suffix, denominator in DENOMINATORS.items():
                if suffix.startswith("pour_1000") == (measure == "postes"):
                    ident = f"{variable}_{suffix}"
                    check(ident in FUNDING_INDICATORS, f"{ident} is not declared")
                    chosen[ident] = (dispositif.id, measure, denominator,
                                     1000.0 if measure == "postes" else 1.0)
    return chosen


INDICATORS = indicators()


def nearest(year: str, periods: list[str]) -> str:
    """The latest period not after ``year``, else the first after it."""
    before = [p for p in periods if p <= year]
    return before[-1] if before else periods[0]


# -- setup ------------------------------------------------------------------------------

def funding_warehouse(context: Context) -> Path:
    """The loaded warehouse plus the contrats de ville, the posts and the dotations."""
    path = loaded_warehouse(context, "funding")
    with Warehouse(path) as warehouse:
        run_import(warehouse, ZoningImporter(),
                   context.sample(f"{POSTS}/geom_cv_ctr_2024.json"))
        for prefix in ("adulte-relais", "postes-fonjep"):
            for year in range(2020, 2026):
                run_import(warehouse, PostesPolitiqueVille(),
                           context.sample(f"{POSTS}/{prefix}-{year}.json"))
        run_import(warehouse, DotationsInvestissement(), context.sample(DOTATIONS),
                   options=ImportOptions(extra={"allow_former_codes": True}))
    return path


# -- the product --------------------------------------------------------------------------

def product_compute(warehouse: Warehouse) -> dict[tuple[str, str, str], pd.DataFrame]:
    """The product: one new engine, every funding indicator of each year at each level."""
    engine = IndicatorEngine(warehouse)
    results = {}
    for year in YEARS:
        ids = [i for i in INDICATORS if year in engine.periods(engine.indicator(i))]
        for found in engine.compute(ids, LEVELS, VINTAGE, year):
            results[(found.indicator.id, found.level, year)] = found.frame[["code", "value"]]
    return results


# -- the baseline -------------------------------------------------------------------------

def passage_to(connection: duckdb.DuckDBPyConnection, source: int) -> pd.DataFrame:
    """The passage from ``source`` to 2026: the adjacent tables chained, weights multiplied."""
    steps = connection.execute(
        "SELECT from_vintage, from_code, to_code, weight FROM passages "
        "WHERE from_vintage >= ? AND to_vintage = from_vintage + 1 AND to_vintage <= ?",
        [source, VINTAGE]).df()
    chained = steps[steps["from_vintage"] == source][["from_code", "to_code", "weight"]]
    for vintage in range(source + 1, VINTAGE):
        step = steps[steps["from_vintage"] == vintage]
        chained = chained.merge(step, left_on="to_code", right_on="from_code",
                                suffixes=("", "_next"))
        chained = chained.assign(weight=chained["weight"] * chained["weight_next"]).groupby(
            ["from_code", "to_code_next"], as_index=False)["weight"].sum().rename(
            columns={"to_code_next": "to_code"})
    return chained


def convert_count(values: pd.Series, passage: pd.DataFrame) -> pd.Series:
    """A count to 2026: summed over merged communes, shared over split ones."""
    rows = passage[passage["from_code"].isin(values.index)].copy()
    rows["value"] = rows["from_code"].map(values).to_numpy() * rows["weight"].to_numpy()
    split = rows.groupby("from_code")["to_code"].transform("size") > 1
    known = values.dropna()
    if split.any() and (known == known.round()).all():
        # integer counts: shares rounded so that each split commune keeps its total
        part = rows[split]
        floors = np.floor(part["value"])
        total = part["from_code"].map(values)
        missing = (total - floors.groupby(part["from_code"]).transform("sum")).round()
        rank = (part["value"] - floors).sort_values(ascending=False, kind="stable").groupby(
            part["from_code"]).cumcount().reindex(part.index)
        rows.loc[split, "value"] = floors + (rank < missing).astype(float)
    converted = rows.groupby("to_code")["value"].sum(min_count=1)
    unknown = rows["value"].isna().groupby(rows["to_code"]).any()
    return converted.mask(unknown.reindex(converted.index))


def carry_rate(values: pd.Series, passage: pd.DataFrame) -> pd.Series:
    """A rate to 2026: only to the communes that did not change (one to one)."""
    one = passage[~passage["from_code"].duplicated(keep=False)
                  & ~passage["to_code"].duplicated(keep=False)]
    return pd.Series(one["from_code"].map(values).to_numpy(), index=one["to_code"].to_numpy())


def commune_figures(connection: duckdb.DuckDBPyConnection) -> dict[str, pd.Series]:
    """Population 2018 and poor persons 2019/2020 of the communes of 2026."""
    observed = connection.execute(
        """SELECT variable, period, vintage, code, value FROM observations WHERE level = 'COM'
           AND ((variable = 'population' AND period = '2018')
                OR (variable IN ('taux_pauvrete_60', 'personnes_menages_fiscaux')
                    AND period IN ('2019', '2020')))""").df()
    figures = {}
    for (variable, period, vintage), group in observed.groupby(["variable", "period",
                                                                "vintage"]):
        values = group.set_index("code")["value"]
        passage = passage_to(connection, int(vintage))
        figures[f"{variable}@{period}"] = carry_rate(values, passage) \
            if variable == "taux_pauvrete_60" else convert_count(values, passage)
    for period in FILOSOFI_PERIODS:
        rate = figures.pop(f"taux_pauvrete_60@{period}")
        persons = figures.pop(f"personnes_menages_fiscaux@{period}")
        figures[f"personnes_pauvres@{period}"] = rate * persons.reindex(rate.index) / 100
    return figures


def nesting(members: pd.DataFrame, source: str, level: str) -> pd.Series:
    """Target of each territory of ``source`` all of whose communes are in one of ``level``."""
    pairs = members[members["parent_level"] == source][["code", "parent_code"]].merge(
        members[members["parent_level"] == level][["code", "parent_code"]], on="code",
        how="left", suffixes=("", "_target"))
    grouped = pairs.groupby("parent_code")["parent_code_target"]
    inside = (grouped.count() == grouped.size()) & (grouped.nunique() == 1)
    return grouped.first()[inside]


def baseline_compute(connection: duckdb.DuckDBPyConnection
                     ) -> dict[tuple[str, str, str], pd.DataFrame]:
    """The baseline: funding lines and commune figures, grouped, merged and divided."""
    lines = connection.execute(
        "SELECT dispositif, year, amount, posts, contrat_ville, code_commune, departement, "
        "siren FROM funding_lines").df()
    members = connection.execute(
        "SELECT code, parent_level, parent_code FROM memberships WHERE vintage = ? "
        "AND level = 'COM'", [VINTAGE]).df()
    contrats = set(members.loc[members["parent_level"] == "CV", "parent_code"])
    in_epci = members[members["parent_level"] == "EPCI"].set_index("code")["parent_code"]
    figures = commune_figures(connection)
    to_2026 = passage_to(connection, int(connection.execute(
        "SELECT min(vintage) FROM observations WHERE level = 'COM' AND variable = "
        "'montant_detr'").fetchone()[0]))

    # denominators per territory: sums over the communes that have them
    sums = {}
    for level in LEVELS:
        links = members[members["parent_level"] == level]
        for key, values in figures.items():
            own = links.assign(value=links["code"].map(values))
            sums[(level, key)] = own.groupby("parent_code")["value"].sum(min_count=1)

    # totals per source territory: département, contrat de ville, commune (grants)
    totals = {}
    for (dispositif, year), group in lines.groupby(["dispositif", "year"]):
        for measure, column in (("montant", "amount"), ("postes", "posts")):
            if measure == "postes" and not DISPOSITIFS[dispositif].counts_posts:
                continue
            key = (dispositif, measure, str(year))
            totals[(*key, "DEP")] = group.dropna(subset=["departement"]).groupby(
                "departement")[column].sum()
            located = group[group["contrat_ville"].isin(contrats)]
            totals[(*key, "CV")] = located.groupby("contrat_ville")[column].sum()
            communes = group.dropna(subset=["code_commune"]).groupby("code_commune")[
                column].sum()
            totals[(*key, "COM")] = convert_count(communes, to_2026) if len(communes) \
                else communes
            if not DISPOSITIFS[dispositif].counts_posts:
                # an EPCI's grants: to its communes and to itself (by its SIREN)
                converted = totals[(*key, "COM")]
                from_communes = converted.groupby(
                    in_epci.reindex(converted.index).to_numpy()).sum()
                own = group[group["code_commune"].isna() & group["siren"].isin(
                    set(in_epci))].groupby("siren")[column].sum()
                totals[(*key, "EPCI")] = from_communes.add(own, fill_value=0.0)

    targets = {level: np.sort(members.loc[members["parent_level"] == level,
                                          "parent_code"].unique()) for level in LEVELS}
    nested = {(source, level): nesting(members, source, level)
              for source, level in {("DEP", "REG"), ("DEP", "FRA"), ("CV", "EPCI")}}
    results = {}
    for ident, (dispositif, measure, denominator, scale) in INDICATORS.items():
        sources = POST_SOURCES if DISPOSITIFS[dispositif].counts_posts else GRANT_SOURCES
        for year in YEARS:
            if (dispositif, measure, year, "DEP") not in totals:
                continue
            for level in LEVELS:
                source = sources[level]
                own = totals[(dispositif, measure, year, source)]
                if source == level:
                    top = own
                elif source == "COM":
                    links = members[members["parent_level"] == level]
                    top = links.assign(value=links["code"].map(own)).groupby("parent_code")[
                        "value"].sum(min_count=1)
                else:
                    target = nested[(source, level)]
                    placed = own[own.index.isin(target.index)]
                    top = placed.groupby(target.reindex(placed.index).to_numpy()).sum()
                top = top.reindex(targets[level])
                if denominator is None:
                    value = top.to_numpy(dtype="float64")
                else:
                    period = nearest(year, POPULATION_PERIODS if denominator == "population"
                                     else FILOSOFI_PERIODS)
                    bottom = sums[(level, f"{denominator}@{period}")].reindex(targets[level])
                    with np.errstate(divide="ignore", invalid="ignore"):
                        value = np.where(bottom > 0, scale * top / bottom, np.nan)
                results[(ident, level, year)] = pd.DataFrame({"code": targets[level],
                                                              "value": value})
    return results


def compare(product: dict[tuple[str, str, str], pd.DataFrame],
            baseline: dict[tuple[str, str, str], pd.DataFrame]) -> tuple[int, int]:
    """Check every indicator × level × year; return (frames, non-missing values)."""
    check(set(product) == set(baseline),
          f"not the same indicators × levels × years: {len(product)} vs {len(baseline)}, "
          f"e.g. {sorted(set(product) ^ set(baseline))[:3]}")
    values = 0
    for key, frame in product.items():
        ours = frame.set_index("code")["value"].sort_index()
        theirs = baseline[key].set_index("code")["value"].sort_index()
        check(ours.index.equals(theirs.index),
              f"{key}: territories differ ({len(ours)} vs {len(theirs)})")
        a, b = ours.to_numpy(dtype="float64"), theirs.to_numpy(dtype="float64")
        close = np.isclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True)
        if not close.all():
            first = int(np.argmin(close))
            check(False, f"{key}: {int((~close).sum())} values differ, e.g. "
                  f"{ours.index[first]}: product {a[first]}, baseline {b[first]}")
        values += int(np.isfinite(a).sum())
    return len(product), values


def run(context: Context, result: BenchmarkResult) -> None:
    """Load the warehouse once, then time both computations and compare them."""
    print("  (loading the census, Filosofi, contrats de ville, posts and dotations once, "
          "untimed)", flush=True)
    path = funding_warehouse(context)
    with Warehouse(path, read_only=True) as warehouse:
        timings = best_of_both(
            {"product": (product_compute, lambda: warehouse),
             "baseline": (baseline_compute, lambda: warehouse.connection)},
            context.repeat, warmup=True)
    product, baseline = timings["product"], timings["baseline"]
    record_timings(result, product, baseline)
    result.passed = product.best <= baseline.best
    frames, values = compare(product.result, baseline.result)
    result.checks.append(f"{frames} indicator × level × year frames identical (rtol 1e-9), "
                         f"{values:,} non-missing values")
    result.details.update({"indicators": len(INDICATORS), "levels": LEVELS, "years": YEARS,
                           "vintage": VINTAGE})
