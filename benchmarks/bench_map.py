"""The map of all communes in headless Chromium: time from navigation to the choropleth.

The product's server (``cohesion serve``) runs in its own process on loopback over a
warehouse holding the référentiel and the Comparateur and Filosofi files. Debian's
Chromium (Playwright, headless, software WebGL) opens
``/carte?level=COM&indicator=taux_chomage_15_64`` in a new browser context each time
(empty cache), lets its new window settle, navigates and waits for the map script to
report that the values of the 35,000 communes are drawn (``window.cohesionMapReady``,
set once MapLibre has rendered the values joined to every vector tile of the view); the
time is ``performance.now()`` at that moment, i.e. milliseconds since the navigation
started.

Each visitor's window is opened (on ``about:blank``) and left idle for
``WINDOW_SETTLE_S`` before the navigation, as a visitor's browser is open before they
follow a link. Chromium starts, for every new window, a renderer for the omnibox's
popup (``chrome://omnibox-popup.top-chrome``, 0.45-0.5 s of CPU) and the browser
process spends 0.2-0.25 s more making the window: a visitor pays that once, when their
browser starts, but a context opened just before the navigation made the page share the
machine's two cores with it during the measured second (per-process CPU during the
navigation, measured with and without the pause: WebUI renderer 0.47 → 0.01 s, browser
0.40 → 0.16 s; the page's renderer, GPU and network processes unchanged). The cache
stays empty (a new context per visitor) and the time still runs from the navigation.

The first opening after the server starts is timed apart ("cold"); the repetitions
then show what every new visitor gets, with an empty browser cache; a returning
visitor, whose browser keeps the library and the tiles, is timed too (in the details).
The target holds for both: the slower of the cold opening and the median of the
repetitions must be under a second. Payloads are measured on the wire, as the browser
received them (compressed when the server compressed them): the HTML page, the
scripts (ours and the map library with its worker), the values (``/api/values``,
JSON), the vector tiles of the view (communes and départements), the style sheets and
fonts, and, for reference, the GeoJSON of the simplified contours
(``/api/geometry/COM``) that the tiles replace. There is no pandas baseline: the
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
TARGET_SECONDS = 1.0
TARGET = f"< {TARGET_SECONDS:.0f} s (first opening after start included)"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
INDICATOR = "taux_chomage_15_64"
MAP = f"/carte?level=COM&indicator={INDICATOR}"
VIEWPORT = {"width": 1400, "height": 900}
#: Seconds a visitor's new window is left idle before the navigation (see the docstring).
WINDOW_SETTLE_S = 1.5
#: Resolves once the map reports its values drawn. ``page.wait_for_function`` would
#: evaluate its expression with ``eval``, which the page's Content-Security-Policy
#: refuses; ``page.evaluate`` goes through the DevTools protocol, which it lets through.
WAIT_READY = """() => window.cohesionMapReady === true || new Promise((resolve, reject) => {
  document.addEventListener("cohesion:map-ready", () => resolve(true), { once: true });
  setTimeout(() => reject(new Error("the map was not drawn within 60 s")), 60000);
})"""


def _wire_bytes(url: str) -> int:
    """Bytes of a response body as sent (still compressed when the server compressed it)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return len(answer.read())


def payload(fetched: dict[str, int]) -> dict[str, int]:
    """Bytes received by kind of resource (response bodies as sent on the wire)."""
    def total(*markers: str) -> int:
        return sum(size for url, size in fetched.items()
                   if any(marker in url.split("?")[0] for marker in markers))

    return {"scripts": total(".js", ".mjs"), "map_library": total("maplibre-gl"),
            "values_json": total("/api/values"), "tiles": total("/api/tiles/"),
            "tiles_count": sum(1 for url in fetched if "/api/tiles/" in url),
            "styles_and_fonts": total(".css", ".woff2", ".woff"),
            "all": sum(fetched.values())}


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
    time.sleep(WINDOW_SETTLE_S)
    for _ in range(2 if again else 1):
        started = time.perf_counter()
        page.goto(base + MAP)
        page.evaluate(WAIT_READY)
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
            print(f"    cold    : {cold['ready_s']:.2f} s (first opening after the server "
                  "started)", flush=True)
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
        page_bytes = _wire_bytes(base + MAP)
        geometry = _wire_bytes(f"{base}/api/geometry/COM")
    finally:
        server.terminate()
        server.wait(timeout=30)

    counted = last["legend"].split(" communes sur ")[0].split("·")[-1]
    communes = int("".join(ch for ch in counted if ch.isdigit()) or 0)
    check(communes > 30_000, f"the legend counts {communes} communes with a value")
    check(cold["legend"] == last["legend"], "the first opening drew another legend")
    times = [r["ready_s"] for r in runs]
    median = statistics.median(times)
    sizes = {"page_html": page_bytes, **payload(last["fetched"])}
    sizes["all"] += page_bytes
    result.product_times = [round(t, 3) for t in [cold["ready_s"], *times]]
    result.product_s = max(cold["ready_s"], median)
    result.basis = "the slower of the first opening and the median; first opening, then each"
    result.passed = result.product_s < TARGET_SECONDS
    result.checks.append(
        f"{communes:,} communes with a value drawn; judged on the slower of cold "
        f"{cold['ready_s']:.2f} s and median {median:.2f} s (first figure listed: cold)")
    result.checks.append(
        f"payload: HTML {sizes['page_html'] / 1e3:.0f} kB, scripts "
        f"{sizes['scripts'] / 1e3:.0f} kB (map library {sizes['map_library'] / 1e3:.0f} "
        f"kB), values {sizes['values_json'] / 1e3:.0f} kB, {sizes['tiles_count']} tiles "
        f"{sizes['tiles'] / 1e3:.0f} kB, styles and fonts "
        f"{sizes['styles_and_fonts'] / 1e3:.0f} kB; {sizes['all'] / 1e6:.2f} MB in all")
    result.details.update({
        "url": MAP, "viewport": VIEWPORT, "median_s": round(median, 3),
        "cold_s": round(cold["ready_s"], 3),
        "returning_visitor_s": [round(t, 3) for t in returning],
        "stages_ms_cold": {k: round(v) for k, v in cold["timing"].items()
                           if isinstance(v, (int, float))},
        "stages_ms_last_run": {k: round(v) for k, v in last["timing"].items()
                               if isinstance(v, (int, float))},
        "payload_bytes": sizes | {"geojson_api_geometry_for_reference": geometry},
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
