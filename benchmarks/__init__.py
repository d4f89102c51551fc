"""Benchmarks of Cohésion against plain pandas implementations of the same work.

Run them all with ``uv run python -m benchmarks`` (see ``docs/benchmarks.md``). Each
benchmark times the product's public function and a baseline written as an analyst
would in a notebook (pandas, shapely, numpy, pyproj, DuckDB), checks that both give the
same results, and compares the product's time with its target:

- :mod:`benchmarks.bench_build`: the full référentiel build (6 COG vintages and the
  geometries of every level), target under 60 s;
- :mod:`benchmarks.bench_import`: the import of the national Comparateur de
  territoires file, every validation kept, target at least as fast as pandas's read and
  melt;
- :mod:`benchmarks.bench_aggregate`: 20 indicators at every level of the 2021
  geography, target under 2 s and not slower than pandas.
"""
