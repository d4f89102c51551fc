"""The map of all communes in headless Chromium: time from navigation to the choropleth.

The product's server (``cohesion serve``) runs in its own process on loopback over a
warehouse holding the référentiel and the Comparateur and Filosofi files. Debian's
Chromium (Playwright, headless, software WebGL) opens
``/carte?level=COM&indicator=taux_chomage_15_64`` in a new browser context each time
(empty cache) and waits for the map script to report that the values of the 35,000
communes are drawn (``window.cohesionMapReady``, set on MapLibre's ``idle`` event once
the values are joined to the vector tiles); the time is ``performance.now()`` at that
moment, i.e. milliseconds since the navigation started.

The first opening after the server starts is timed apart ("cold": the server cuts and
encodes the tiles of that zoom); the repetitions (the result) then show what every new
visitor gets, with an empty browser cache; a returning visitor, whose browser keeps the
library and the tiles, is timed too (in the details). Payloads are measured on the wire:
the HTML page, the values (``/api/values``, JSON), the vector tiles of the first view
(gzip), the map library, and, for reference, the GeoJSON of the simplified contours
(``/api/geometry/COM``, gzip) that the tiles replace. There is no pandas baseline: the
target is absolute.

Run alone with ``uv run python -m benchmarks.bench_map`` or within the suite.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.common import (
    DEFAULT_DATA,
    BenchmarkResult,
    Context,
    check,
    free_port,
    load_average,
    loaded_warehouse,
    print_result,
    serve,
)

NAME = "map"
TITLE = "Commune map in headless Chromium (navigation to choropleth)"
TARGET_SECONDS = 2.0
TARGET = f"< {TARGET_SECONDS:.0f} s"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
INDICATOR = "taux_chomage_15_64"
MAP = f"/carte?level=COM&indicator={INDICATOR}"
VIEWPORT = {"width": 1400, "height": 900}


def _wire_bytes(url: str) -> int:
    """Bytes of a response body as sent (still compressed when the server compressed it)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return len(answer.read())


def open_map(browser: Any, base: str, again: bool = False) -> dict[str, Any]:
    """Open the commune map in a fresh context; return its timings and what it fetched.

    With ``again``, the map is opened a second time in the same context and that second
    opening is measured: a returning visitor, whose browser keeps the library (and its
    compiled code) and the tiles.
    """
    context = browser.new_context(viewport=VIEWPORT, locale="fr-FR")
    fetched: dict[str, int] = {}
    context.on("requestfinished", lambda request: fetched.__setitem__(
        request.url, request.sizes()["responseBodySize"]))
    page = context.new_page()
    for _ in range(2 if again else 1):
        started = time.perf_counter()
        page.goto(base + MAP)
        page.wait_for_function("window.cohesionMapReady === true", timeout=60_000)
        wall = time.perf_counter() - started
    timing = page.evaluate("window.cohesionMapTiming")
    legend = page.locator("#legende").inner_text()
    context.close()
    return {"ready_s": timing["ready"] / 1000, "wall_s": wall, "timing": timing,
            "legend": legend, "fetched": fetched}


def run(context: Context, result: BenchmarkResult) -> None:
    """Serve, open the map once cold, then time repeated openings."""
    check(CHROMIUM.exists(), f"Chromium missing at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    path = loaded_warehouse(context, "map")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(path, port)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=CHROMIUM_ARGS)
            cold = open_map(browser, base)
            print(f"    cold    : {cold['ready_s']:.2f} s (tiles cut on the server)",
                  flush=True)
            runs = []
            for number in range(context.repeat):
                runs.append(open_map(browser, base))
                print(f"    run {number + 1}/{context.repeat}: {runs[-1]['ready_s']:.2f} s "
                      f"(wall clock with Playwright {runs[-1]['wall_s']:.2f} s)", flush=True)
            returning = [open_map(browser, base, again=True)["ready_s"]
                         for _ in range(context.repeat)]
            print(f"    returning visitor (browser cache): "
                  f"{', '.join(f'{t:.2f}' for t in returning)} s", flush=True)
            browser.close()
        last = runs[-1]
        tiles = {url: size for url, size in last["fetched"].items() if "/api/tiles/COM/" in url}
        values = next(size for url, size in last["fetched"].items() if "/api/values" in url)
        library = sum(size for url, size in last["fetched"].items() if "maplibre-gl" in url)
        geometry = _wire_bytes(f"{base}/api/geometry/COM")
        page_bytes = _wire_bytes(base + MAP)
    finally:
        server.terminate()
        server.wait(timeout=30)

    counted = last["legend"].split(" communes sur ")[0].split("·")[-1]
    communes = int("".join(ch for ch in counted if ch.isdigit()) or 0)
    check(communes > 30_000, f"the legend counts {communes} communes with a value")
    times = [r["ready_s"] for r in runs]
    result.product_times = [round(t, 3) for t in times]
    result.product_s = min(times)
    result.passed = result.product_s < TARGET_SECONDS
    result.checks.append(f"{communes:,} communes with a value drawn; {len(tiles)} tiles, "
                         f"{sum(tiles.values()) / 1e6:.2f} MB (gzip); values "
                         f"{values / 1e6:.2f} MB; median {statistics.median(times):.2f} s, "
                         f"cold {cold['ready_s']:.2f} s")
    result.details.update({
        "url": MAP, "viewport": VIEWPORT, "median_s": round(statistics.median(times), 3),
        "cold_s": round(cold["ready_s"], 3),
        "returning_visitor_s": [round(t, 3) for t in returning], "stages_ms_last_run": {
            k: round(v) for k, v in last["timing"].items() if isinstance(v, (int, float))},
        "payload_bytes": {"page_html": page_bytes, "values_json": values,
                          "tiles_gzip": sum(tiles.values()), "tiles": len(tiles),
                          "maplibre_js": library,
                          "geojson_api_geometry_gzip_for_reference": geometry},
        "load_average_after": load_average()})


def main() -> int:
    """Run this benchmark alone and print its result."""
    with tempfile.TemporaryDirectory(prefix="cohesion-bench-map-") as work:
        context = Context(data=DEFAULT_DATA, work=Path(work))
        result = BenchmarkResult(NAME, TITLE, TARGET)
        print(f"== {TITLE} (target {TARGET}); load average {load_average()}", flush=True)
        run(context, result)
        print_result(result)
        for key, value in result.details.items():
            print(f"  {key}: {value}")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
