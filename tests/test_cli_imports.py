"""``import cohesion.cli`` (and so ``cohesion --help``) loads no heavy library."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("scipy", "shapely", "dask", "distributed", "pyproj", "geopandas", "pandas",
         "duckdb")


def test_the_command_line_imports_no_heavy_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, cohesion.cli; print(sorted(m for m in "
         f"{HEAVY!r} if m in sys.modules))"],
        capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]", done.stderr


def test_lazy_exports_still_work() -> None:
    import cohesion
    import cohesion.geo

    assert cohesion.Warehouse.__name__ == "Warehouse"
    assert cohesion.geo.QpvIndex.__name__ == "QpvIndex"
