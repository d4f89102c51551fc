"""Run the benchmark suite: ``uv run python -m benchmarks [--only NAME] [--repeat N]``.

Prints the machine facts, each benchmark's times, ratio and PASS/FAIL against its
target, then a summary table, also written as JSON to ``benchmarks/results/latest.json``.
The exit status is 1 if a benchmark raised or its two implementations disagreed (and,
with ``--strict``, if a target was missed), else 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import ModuleType

from benchmarks import (
    bench_access,
    bench_aggregate,
    bench_api,
    bench_build,
    bench_funding,
    bench_import,
    bench_load,
    bench_map,
    bench_qpv,
    bench_scale,
    bench_search,
    bench_typology,
)
from benchmarks.common import (
    DEFAULT_DATA,
    RESULTS,
    BenchmarkResult,
    CheckError,
    Context,
    load_average,
    machine_facts,
    print_machine,
    print_result,
    summary_table,
)

BENCHMARKS: dict[str, ModuleType] = {module.NAME: module for module in
                                     (bench_build, bench_import, bench_aggregate,
                                      bench_funding, bench_qpv, bench_api, bench_map,
                                      bench_typology, bench_load, bench_access,
                                      bench_search, bench_scale)}


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS),
                        help="run only this benchmark (repeatable; default: all)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed repetitions of the import and aggregation (default 3)")
    parser.add_argument("--build-repeat", type=int, default=2,
                        help="timed repetitions of the référentiel build, about a minute "
                             "each for each implementation (default 2)")
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds of mixed traffic of the load benchmark (default 60)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"folder of the real data samples (default {DEFAULT_DATA})")
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json",
                        help="where to write the results (default benchmarks/results/"
                             "latest.json)")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when a target is missed")
    arguments = parser.parse_args(argv)
    if arguments.repeat < 1 or arguments.build_repeat < 1:
        parser.error("repetitions must be at least 1")
    return arguments


def run_one(module: ModuleType, context: Context) -> BenchmarkResult:
    """Run one benchmark, turning any exception into an ``ERROR`` result."""
    result = BenchmarkResult(module.NAME, module.TITLE, module.TARGET)
    print(f"\n== {module.TITLE} (target {module.TARGET})", flush=True)
    start = time.perf_counter()
    try:
        module.run(context, result)
    except CheckError as error:
        result.error = f"check failed: {error}"
    except Exception as error:  # report and go on with the other benchmarks
        traceback.print_exc()
        result.error = f"{type(error).__name__}: {error}"
    result.details["wall_clock_s"] = round(time.perf_counter() - start, 1)
    print_result(result)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks and report; return the exit status."""
    arguments = parse_arguments(argv)
    names = arguments.only or list(BENCHMARKS)
    facts = machine_facts()
    print("Cohésion benchmarks: product vs plain pandas", flush=True)
    print_machine(facts)
    results: list[BenchmarkResult] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cohesion-bench-") as work:
        context = Context(data=arguments.data, work=Path(work), repeat=arguments.repeat,
                          build_repeat=arguments.build_repeat, duration=arguments.duration)
        for name in names:
            results.append(run_one(BENCHMARKS[name], context))
    facts["load_average_at_end"] = load_average()
    facts["suite_wall_clock_s"] = round(time.perf_counter() - started, 1)

    print("\nSummary (times are the best of the repetitions; ratio > 1: product faster)")
    print(summary_table(results))
    print(f"load average at end (1/5/15 min): {facts['load_average_at_end']}; "
          f"suite ran in {facts['suite_wall_clock_s']:.0f} s")
    arguments.json.parent.mkdir(parents=True, exist_ok=True)
    arguments.json.write_text(json.dumps(
        {"machine": facts, "repeat": arguments.repeat, "build_repeat": arguments.build_repeat,
         "benchmarks": [r.to_dict() for r in results]},
        indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print(f"results written to {arguments.json}")
    if any(r.status == "ERROR" for r in results):
        return 1
    return 1 if arguments.strict and any(r.status != "PASS" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
