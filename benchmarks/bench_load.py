"""Load test: 50 clients of mixed traffic against ``cohesion serve``, and its memory.

The product's server runs in its own process on a warehouse holding what ``make run``
imports (the référentiel and every sample of ``../shared/data``, QPV contours
included). Fifty asyncio + httpx clients send, for ``--duration`` seconds (60 by
default), portraits of 300 territories of every level, ``/api/values`` of several
indicators at several levels and ``/api/geometry/COM``; one of them uploads now and
then a 100,000-row CSV of points (the real DVF sales, resampled) to
``/api/qpv/locate.csv``. Reported: errors (the target is none), p50/p99 per route,
throughput, the server's peak resident memory (the process and its children, sampled
every 0.2 s), and its memory at rest after start for two warehouse sizes, to show how
it grows with the warehouse.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.bench_api import portrait_paths
from benchmarks.common import (
    COMPARATEUR,
    BenchmarkResult,
    Context,
    check,
    copy_file,
    free_port,
    serve,
)

NAME = "load"
TITLE = "Mixed traffic, 50 concurrent clients"
TARGET = "0 errors"
CLIENTS = 50
DVF = "qpv/hackaviz2021_occitanie/foncier_qp.xlsx"
LOCATE_ROWS = 100_000
#: Seconds the uploading client waits between two uploads.
UPLOAD_PAUSE_S = 5.0
SAMPLE_EVERY_S = 0.2
#: Routes of the read traffic and their weights.
WEIGHTS = {"portrait": 5, "values": 3, "geometry": 1}
VALUE_LEVELS = ("DEP", "REG", "EPCI", "COM")


class MemoryProbe:
    """Resident memory of a process and its children, sampled in a background thread."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def now(self) -> int:
        """Current resident memory (bytes) of the process and its children."""
        import psutil

        total = 0
        for process in (self.process, *self.process.children(recursive=True)):
            with contextlib.suppress(psutil.NoSuchProcess):  # a child that just ended
                total += process.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.peak = max(self.peak, self.now())

    def __enter__(self) -> MemoryProbe:
        self.peak = self.now()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def at_rest(path: Path) -> int:
    """Resident memory of a server on ``path``, a few seconds after it answered."""
    server = serve(path, free_port())
    try:
        time.sleep(3)
        return MemoryProbe(server.pid).now()
    finally:
        stop(server)


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)


def warehouses(context: Context) -> tuple[Path, Path]:
    """The référentiel + Comparateur, and what ``make run`` imports (every sample)."""
    from cohesion.importers import run_import
    from cohesion.importers.insee import Comparateur
    from cohesion.store import Warehouse

    small = copy_file(context.referentiel_file(), context.work / "load-small.duckdb")
    with Warehouse(small) as warehouse:
        run_import(warehouse, Comparateur(), context.sample(COMPARATEUR))
    full = copy_file(small, context.work / "load-full.duckdb")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cohesion", "--warehouse", str(full), "data",
                    "import-samples", str(context.data)], check=True,
                   stdout=subprocess.DEVNULL)
    print(f"  every sample imported in {time.perf_counter() - started:.0f} s", flush=True)
    return small, full


def observations(path: Path) -> int:
    from cohesion.store import Warehouse

    with Warehouse(path, read_only=True) as warehouse:
        return int(warehouse.connection.execute(
            "SELECT count(*) FROM observations").fetchone()[0])


def locate_csv(context: Context) -> bytes:
    """The real DVF points resampled to :data:`LOCATE_ROWS` rows, as a CSV file."""
    import pandas as pd

    sales = pd.read_excel(context.sample(DVF), usecols=["longitude", "latitude"]).dropna()
    chosen = sales.sample(LOCATE_ROWS, replace=True, random_state=7).reset_index(drop=True)
    chosen.insert(0, "id", range(1, LOCATE_ROWS + 1))
    return chosen.to_csv(index=False, sep=";").encode()


def value_paths(base: str) -> list[str]:
    """``/api/values`` for the first indicators of the catalogue, at several levels."""
    import httpx

    ids = [entry["id"] for entry in httpx.get(f"{base}/api/indicators", timeout=60).json()][:6]
    check(bool(ids), "the catalogue of indicators is empty")
    return [f"/api/values?indicator={i}&level={level}" for i in ids for level in VALUE_LEVELS]


async def traffic(base: str, paths: dict[str, list[str]], upload: bytes,
                  duration: float) -> tuple[dict[str, list[float]], dict[str, int], list[str]]:
    """Run the clients; return latencies (s) and errors per route, and error samples."""
    import httpx

    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    examples: list[str] = []
    end = time.perf_counter() + duration
    routes = [route for route, weight in WEIGHTS.items() for _ in range(weight)]

    async def send(client: httpx.AsyncClient, route: str, request) -> None:
        started = time.perf_counter()
        try:
            response = await request
            ok = response.status_code == 200
            if not ok and len(examples) < 5:
                examples.append(f"{route}: {response.status_code} {response.text[:200]}")
        except httpx.HTTPError as error:
            ok = False
            if len(examples) < 5:
                examples.append(f"{route}: {type(error).__name__} {error}")
        latencies[route].append(time.perf_counter() - started)
        if not ok:
            errors[route] += 1

    async def reader(client: httpx.AsyncClient, seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < end:
            route = rng.choice(routes)
            await send(client, route, client.get(rng.choice(paths[route])))

    async def uploader(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < end:
            await send(client, "locate.csv", client.post(
                "/api/qpv/locate.csv", data={"lon": "longitude", "lat": "latitude"},
                files={"file": ("dvf.csv", upload, "text/csv")}))
            await asyncio.sleep(UPLOAD_PAUSE_S)

    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:
        await asyncio.gather(uploader(client),
                             *(reader(client, seed) for seed in range(CLIENTS - 1)))
    return latencies, errors, examples


def run(context: Context, result: BenchmarkResult) -> None:
    """Measure memory at rest for two sizes, then drive the mixed traffic."""
    small, full = warehouses(context)
    sizes = {name: {"observations": observations(path), "file_mb": round(
        path.stat().st_size / 2**20), "rss_at_rest_mb": round(at_rest(path) / 2**20)}
        for name, path in (("référentiel + Comparateur", small),
                           ("every sample (make run)", full))}
    for name, size in sizes.items():
        print(f"  at rest, {name}: {size['rss_at_rest_mb']} MB resident "
              f"({size['observations']:,} observations, file {size['file_mb']} MB)",
              flush=True)
    upload = locate_csv(context)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(full, port)
    try:
        paths = {"portrait": portrait_paths(full), "values": value_paths(base),
                 "geometry": ["/api/geometry/COM"]}
        rest = MemoryProbe(server.pid).now()
        with MemoryProbe(server.pid) as probe:
            started = time.perf_counter()
            latencies, errors, examples = asyncio.run(
                traffic(base, paths, upload, context.duration))
            elapsed = time.perf_counter() - started
    finally:
        stop(server)
    requests = sum(len(times) for times in latencies.values())
    failed = sum(errors.values())
    routes = {route: {"requests": len(times), "errors": errors.get(route, 0),
                      "p50_ms": round(float(np.percentile(times, 50)) * 1000, 1),
                      "p99_ms": round(float(np.percentile(times, 99)) * 1000, 1)}
              for route, times in sorted(latencies.items())}
    for route, figures in routes.items():
        print(f"  {route:<11} {figures['requests']:>6} requests, {figures['errors']} errors, "
              f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms")
    for example in examples:
        print(f"  error: {example}")
    result.passed = failed == 0
    result.product_s = elapsed
    result.product_times = [round(elapsed, 2)]
    result.details = {"clients": CLIENTS, "duration_s": round(elapsed, 1),
                      "requests": requests, "errors": failed,
                      "throughput_per_s": round(requests / elapsed, 1), "routes": routes,
                      "rss_at_start_mb": round(rest / 2**20),
                      "rss_peak_mb": round(probe.peak / 2**20),
                      "locate_rows": LOCATE_ROWS, "sizes": sizes}
    result.checks.append(
        f"{requests} requests in {elapsed:.0f} s ({requests / elapsed:.0f}/s), {failed} errors; "
        f"server resident memory {rest / 2**20:.0f} MB before the traffic, peak "
        f"{probe.peak / 2**20:.0f} MB")
