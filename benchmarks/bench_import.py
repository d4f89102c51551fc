"""Benchmark 2: import of the national Comparateur de territoires file.

``base_cc_comparateur.CSV`` (INSEE, 35,010 communes × 33 columns) into a warehouse that
already holds the référentiel; each repetition imports into a fresh copy of that
warehouse, so that every import is a first import.

Product: :func:`cohesion.importers.base.run_import` with
:class:`cohesion.importers.insee.Comparateur` (reads, validates every cell and code,
detects the geography vintage, records provenance, writes in one transaction).

Baseline: ``pandas.read_csv`` (``sep=';'``, codes as strings, ``s``/``nd`` as missing),
a melt to long observations with the variable stem and period taken from the column
names (``P18_POP`` → ``P_POP``, ``2018``; ``NAIS1318`` → ``NAIS``, ``2013-2018``), and a
``CREATE TABLE … AS SELECT`` into a copy of the same warehouse file.

Checks: same number of observations (missing values included, as the product keeps
them with their reason), same set of periods, same total of ``P18_POP``.

Target: at least as fast as the baseline (ratio baseline/product ≥ 1), every validation
kept: each cell parsed and checked, each code checked against the référentiel, the
vintage detected, provenance recorded, one transaction.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd

from benchmarks.common import (
    COMPARATEUR,
    BenchmarkResult,
    Context,
    best_of_both,
    check,
    copy_file,
    record_timings,
)
from cohesion.importers.base import run_import
from cohesion.importers.insee import Comparateur
from cohesion.store import Warehouse

NAME = "import"
TITLE = "Import of the Comparateur file (35,010 × 33)"
TARGET_RATIO = 1.0
TARGET = f"≥ {TARGET_RATIO:.0f}× pandas read + melt"

_PREFIXED = re.compile(r"^([A-Z]{1,3})(\d{2})_([A-Z0-9_]+)$")
_SPAN = re.compile(r"^(NAIS|DECE)(\d{2})(\d{2})$")
_SUFFIXED = re.compile(r"^([A-Z][A-Z0-9_]*?)(\d{2})$")


def year(two_digits: str) -> str:
    """``18`` → ``2018``, ``68`` → ``1968``."""
    value = int(two_digits)
    return str(1900 + value if value >= 68 else 2000 + value)


def stem_and_period(name: str) -> tuple[str, str] | None:
    """Variable stem and period of an INSEE column name (None for ``CODGEO``)."""
    if match := _PREFIXED.match(name):
        return f"{match[1]}_{match[3]}", year(match[2])
    if match := _SPAN.match(name):
        return match[1], f"{year(match[2])}-{year(match[3])}"
    if match := _SUFFIXED.match(name):
        return match[1], year(match[2])
    return None


# -- the two implementations ------------------------------------------------------------

def product_import(path: Path, sample: Path) -> int:
    """The product: ``run_import`` with the Comparateur importer; observations written."""
    with Warehouse(path) as warehouse:
        report = run_import(warehouse, Comparateur(), sample)
    check(not report.already_imported, "the product skipped the import (already imported)")
    return report.observations


def baseline_import(path: Path, sample: Path) -> int:
    """The baseline: read_csv, melt, write into DuckDB; observations written."""
    frame = pd.read_csv(sample, sep=";", dtype={"CODGEO": str}, na_values=["s", "nd"],
                        decimal=".")
    long = frame.melt(id_vars="CODGEO", var_name="column", value_name="value")
    names = {c: stem_and_period(c) for c in frame.columns if c != "CODGEO"}
    names = {c: (s[0], s[1]) if s else (c, "*") for c, s in names.items()}  # SUPERF
    long["variable"] = long["column"].map({c: s for c, (s, _) in names.items()})
    long["period"] = long["column"].map({c: p for c, (_, p) in names.items()})
    long = long.rename(columns={"CODGEO": "code"})[["variable", "code", "period", "value"]]
    with duckdb.connect(str(path)) as connection:
        connection.register("long", long)
        connection.execute("CREATE TABLE comparateur AS SELECT * FROM long")
        written = connection.execute("SELECT count(*) FROM comparateur").fetchone()[0]
    return int(written)


def run(context: Context, result: BenchmarkResult) -> None:
    """Time both imports into fresh copies of the référentiel and compare them."""
    sample = context.sample(COMPARATEUR)
    base = context.referentiel_file()
    product_path = context.work / "import-product.duckdb"
    baseline_path = context.work / "import-baseline.duckdb"
    timings = best_of_both(
        {"product": (lambda path: product_import(path, sample),
                     lambda: copy_file(base, product_path)),
         "baseline": (lambda path: baseline_import(path, sample),
                      lambda: copy_file(base, baseline_path))},
        context.repeat, warmup=True)
    product, baseline = timings["product"], timings["baseline"]
    record_timings(result, product, baseline)
    result.passed = baseline.best / product.best >= TARGET_RATIO

    check(product.result == baseline.result,
          f"observations: product {product.result}, baseline {baseline.result}")
    with duckdb.connect(str(product_path), read_only=True) as p, \
            duckdb.connect(str(baseline_path), read_only=True) as b:
        p_total = p.execute("SELECT sum(value) FROM observations WHERE variable = 'population'"
                            " AND period = '2018'").fetchone()[0]
        b_total = b.execute("SELECT sum(value) FROM comparateur WHERE variable = 'P_POP' "
                            "AND period = '2018'").fetchone()[0]
        p_periods = {r[0] for r in p.execute("SELECT DISTINCT period FROM observations")
                     .fetchall()}
        b_periods = {r[0] for r in b.execute("SELECT DISTINCT period FROM comparateur")
                     .fetchall()}
        p_count = p.execute("SELECT count(*) FROM observations").fetchone()[0]
    check(p_count == product.result, f"observations table holds {p_count} rows, "
          f"the import reported {product.result}")
    check(abs(p_total - b_total) <= 1e-9 * abs(p_total),
          f"total P18_POP: product {p_total}, baseline {b_total}")
    check(p_periods == b_periods, f"periods: product {sorted(p_periods)}, "
          f"baseline {sorted(b_periods)}")
    result.checks.append(f"{product.result:,} observations in both; total P18_POP "
                         f"{p_total:,.0f} in both; periods {', '.join(sorted(p_periods))}")
    result.details.update({"observations": product.result, "total_p18_pop": p_total})
