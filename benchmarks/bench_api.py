"""Load test of the portrait API: p95 latency and throughput with 20 concurrent clients.

The product's server (``cohesion serve``: uvicorn + FastAPI) runs in its own process on
loopback over a warehouse holding the référentiel and the Comparateur and Filosofi
files; ``wrk`` (Debian's package) sends portrait requests for 300 territories of every
level from 20 connections for 20 seconds, after one untimed pass that warms the caches.
A Lua ``done`` hook reports the 95th percentile. There is no pandas baseline for a
server: the target is absolute.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

from benchmarks.common import (
    BenchmarkResult,
    Context,
    check,
    free_port,
    loaded_warehouse,
    serve,
)

NAME = "api"
TITLE = "Portraits over HTTP, 20 concurrent clients"
TARGET = "p95 < 50 ms"
TARGET_SECONDS = 0.050
DURATION_S = 20
CONNECTIONS = 20

LUA = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local index = 0
request = function()
  index = index %% #paths + 1
  return wrk.format("GET", paths[index])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.timeout))
end
"""


def portrait_paths(path: Path) -> list[str]:
    from cohesion.store import Warehouse

    with Warehouse(path, read_only=True) as warehouse:
        found = warehouse.query(
            """(SELECT level, code FROM territories WHERE vintage = 2026 AND level = 'COM'
                AND zone = 'metro' USING SAMPLE 240 ROWS (reservoir, 7))
               UNION ALL (SELECT level, code FROM territories WHERE vintage = 2026
                AND level IN ('EPCI', 'DEP') USING SAMPLE 60 ROWS (reservoir, 7))""")
    return [f"/api/portrait/{row.level}:{row.code}@2026" for row in found.itertuples()]


def run(context: Context, result: BenchmarkResult) -> None:
    """Serve, warm every portrait once, then load-test with wrk."""
    wrk = shutil.which("wrk")
    check(wrk is not None, "wrk is not installed (apt-get install wrk)")
    path = loaded_warehouse(context, "api")
    paths = portrait_paths(path)
    paths_file = context.work / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    script = context.work / "portraits.lua"
    script.write_text(LUA % {"paths": paths_file})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(path, port)
    try:
        for relative in paths:  # untimed pass: every portrait computed once
            with urllib.request.urlopen(base + relative, timeout=30) as answer:
                json.load(answer)
        output = subprocess.run(
            [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{DURATION_S}s", "-s", str(script), base],
            capture_output=True, text=True, timeout=DURATION_S + 60, check=True).stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
    line = next(row for row in output.splitlines() if row.startswith("RESULT"))
    requests, duration_us, p50, p95, p99, errors = (int(x) for x in line.split()[1:])
    check(errors == 0, f"{errors} requests failed")
    result.product_s = p95 / 1e6
    result.product_times = [result.product_s]
    result.passed = result.product_s < TARGET_SECONDS
    throughput = requests / (duration_us / 1e6)
    result.details = {"requests": requests, "throughput_per_s": round(throughput, 1),
                      "p50_ms": p50 / 1000, "p95_ms": p95 / 1000, "p99_ms": p99 / 1000,
                      "connections": CONNECTIONS, "territories": len(paths)}
    result.checks.append(f"{requests} portraits, no error, {throughput:.0f} requests/s; "
                         f"p50 {p50 / 1000:.1f} ms, p95 {p95 / 1000:.1f} ms, "
                         f"p99 {p99 / 1000:.1f} ms")
