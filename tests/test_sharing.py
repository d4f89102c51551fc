"""One warehouse file, a running server and the command line, in separate processes.

``cohesion serve`` reads the file read-only: other commands read it at the same time,
and a command that writes asks the server to let go of the file for its duration
(:mod:`cohesion.store.sharing`). Where the file is held by a process that cannot be
asked, the user gets a French message naming that process, never DuckDB's own error.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cohesion.cli.errors import EXIT_CODES
from cohesion.errors import ErrorKind
from cohesion.geo.geocoding import free_port
from conftest import shared

COHESION = str(Path(sys.executable).with_name("cohesion"))
GRID = "programmes/anct_superposeur_v2_2026/grille_densite.csv"


def cohesion(warehouse: Path, *args: str, timeout: float = 300
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COHESION, "--warehouse", str(warehouse), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


@pytest.fixture
def served(loaded_warehouse_file: Path, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """``cohesion serve`` on a copy of the loaded warehouse, in its own process."""
    copy = tmp_path / "served.duckdb"
    shutil.copy(loaded_warehouse_file, copy)
    port = free_port()
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen([COHESION, "--warehouse", str(copy), "serve", "--port",
                                   str(port)], stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "cohesion serve did not start"
            try:
                if httpx.get(f"{url}/api/levels", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        yield copy, url
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def test_commands_read_and_write_while_the_server_serves(served: tuple[Path, str],
                                                         tmp_path: Path) -> None:
    warehouse, url = served
    # a read-only command opens the file next to the server
    output = tmp_path / "reg.csv"
    done = cohesion(warehouse, "export", "taux_chomage_15_64", "--level", "REG", "-o",
                    str(output))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\n84,Auvergne-Rhône-Alpes," in output.read_text()

    # readers keep asking while an import writes: answers or « busy », never an error
    communes = httpx.get(f"{url}/api/values", params={
        "indicator": "population", "level": "COM", "limit": 400}).json()["values"]
    statuses: list[int] = []
    busy: list[httpx.Response] = []
    stop = threading.Event()

    def read() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            index = 0
            while not stop.is_set():
                code = communes[index % len(communes)]["code"]
                index += 1
                answer = client.get(f"/api/portrait/COM:{code}@2026")
                statuses.append(answer.status_code)
                if answer.status_code == 503:
                    busy.append(answer)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        time.sleep(1)
        imported = cohesion(warehouse, "import", "zonage", str(shared(GRID)))
    finally:
        time.sleep(1)
        stop.set()
        for reader in readers:
            reader.join(60)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert set(statuses) <= {200, 503} and statuses.count(200) > 10, set(statuses)
    for answer in busy:
        assert answer.headers["retry-after"] and "réessayez" in answer.json()["error"]
    # the server opened the file again and its caches see the import at once
    levels = [level["id"] for level in httpx.get(f"{url}/api/levels").json()]
    assert "DENS" in levels
    after = httpx.get(f"{url}/api/portrait/COM:93014@2026")
    assert after.status_code == 200


def test_a_writer_that_cannot_be_asked_is_named(loaded_warehouse_file: Path,
                                                tmp_path: Path) -> None:
    copy = tmp_path / "held.duckdb"
    shutil.copy(loaded_warehouse_file, copy)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from cohesion.store import Warehouse
        with Warehouse({str(copy)!r}):
            print("held", flush=True)
            time.sleep(120)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for args in (["import", "zonage", str(shared(GRID))],
                     ["export", "population", "--level", "REG"]):
            done = cohesion(copy, *args)
            message = " ".join((done.stdout + done.stderr).split())
            assert done.returncode == EXIT_CODES[ErrorKind.CONFLICT], message
            assert f"le processus {holder.pid}" in message and "python" in message
            assert "IOException" not in message and "Erreur interne" not in message
    finally:
        holder.kill()
        holder.wait(10)
