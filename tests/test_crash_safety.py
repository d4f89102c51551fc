"""An import killed with SIGKILL leaves the warehouse as before it, or as after it.

A child process imports the real Comparateur (35,010 communes) into a copy of the built
warehouse. Its duration is measured once by a complete reference import; then copies
are imported again and killed at points spread from 10 % to 110 % of that duration
(reading, validating, writing, committing, closing). Each killed copy must open, and
hold exactly the content before the import or exactly the content of the reference
import, never a part of it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cohesion.store import Warehouse
from conftest import COMPARATEUR, shared, table_fingerprint

#: Kill points, as fractions of the measured duration of a complete import.
KILL_POINTS = (0.1, 0.35, 0.6, 0.85, 1.1)
READY = "ready"

#: The child: opens the warehouse, says it is ready, imports, closes.
CHILD = f"""
import sys
from cohesion.importers import run_import
from cohesion.importers.insee import Comparateur
from cohesion.store import Warehouse

with Warehouse(sys.argv[1]) as warehouse:
    print({READY!r}, flush=True)
    run_import(warehouse, Comparateur(), sys.argv[2])
"""


def content(path: Path) -> dict[str, tuple[int, int]]:
    """The fingerprint of every table, the import time of datasets left out.

    Two complete imports of one file differ only by the time they were made.
    """
    with Warehouse(path, read_only=True) as warehouse:
        fingerprint = table_fingerprint(warehouse)
        fingerprint["datasets"] = warehouse.connection.execute(
            "SELECT count(*), coalesce(sum(hash(d)), 0) "
            "FROM (SELECT * EXCLUDE (imported_at) FROM datasets) d").fetchone()
    return fingerprint


def start_import(warehouse: Path) -> tuple[subprocess.Popen[str], float]:
    """Start the child and wait until it holds the warehouse; return it and that time."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(warehouse),
                              str(shared(COMPARATEUR))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    if line != READY:
        child.kill()
        pytest.fail(f"the import child did not start: {line!r} {child.communicate()[1]}")
    return child, time.monotonic()


@pytest.fixture(scope="module")
def reference(built_warehouse_file: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[dict, dict, float]:
    """Content before and after a complete import, and the import's duration (s)."""
    path = tmp_path_factory.mktemp("crash-reference") / "reference.duckdb"
    shutil.copy(built_warehouse_file, path)
    before = content(path)
    child, started = start_import(path)
    _, errors = child.communicate(timeout=600)
    duration = time.monotonic() - started
    assert child.returncode == 0, errors
    after = content(path)
    assert after != before, "the reference import changed nothing"
    return before, after, duration


@pytest.mark.parametrize("point", KILL_POINTS, ids=lambda p: f"{p:.0%}")
def test_import_killed_leaves_before_or_after(point: float, reference: tuple[dict, dict, float],
                                              built_warehouse_file: Path,
                                              tmp_path: Path) -> None:
    before, after, duration = reference
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse_file, path)
    child, started = start_import(path)
    time.sleep(max(0.0, started + point * duration - time.monotonic()))
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=60)
    state = content(path)
    if state == before:
        outcome = "before"
    elif state == after:
        outcome = "after"
    else:
        changed = sorted(t for t in state if state[t] not in (before.get(t), after.get(t)))
        pytest.fail(f"killed at {point:.0%} of {duration:.1f} s, the warehouse holds a mix: "
                    f"tables {changed} match neither the state before nor after the import")
    print(f"killed at {point:.0%} of {duration:.1f} s: the warehouse holds the state {outcome} "
          "the import")  # shown by pytest -rP
    if point <= 0.1:  # a tenth of the way, the file is still being read
        assert outcome == "before", f"killed at {point:.0%}, the import had committed"
    if child.returncode == 0:  # the child finished before the kill: it must have committed
        assert outcome == "after"
