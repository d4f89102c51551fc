"""Services stop on SIGTERM and SIGINT alike, and take their child processes with them.

Each command runs as a real process in a session of its own with SIGINT ignored, as a
background job of a non-interactive shell (a CI step) starts it: before, ``cohesion qpv
addok serve`` could then only be killed, and left its Redis running.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cohesion.geo.addresses import town_hall_documents
from cohesion.geo.geocoding import LocalAddok, free_port, wait_for_port
from cohesion.store.sharing import ServerFile

#: Seconds a service has to stop, its children included.
STOP_TIMEOUT = 20


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start(arguments: list[str], log: Path) -> subprocess.Popen:
    """Start a Python process as a background job: own session, SIGINT ignored."""
    with log.open("wb") as output:
        return subprocess.Popen([sys.executable, *arguments], stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=ignore_sigint,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def cohesion(*arguments: str) -> list[str]:
    return ["-c", "from cohesion.cli import main; main()", *arguments]


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def session_killer() -> Iterator[list[subprocess.Popen]]:
    """The processes a test starts: whatever is left of their sessions is killed."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(STOP_TIMEOUT)
        # the session holds the children too, even once their parent has gone
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def assert_stops(process: subprocess.Popen, number: signal.Signals, log: Path) -> None:
    """Send ``number``: the process ends normally within :data:`STOP_TIMEOUT` seconds."""
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(number)
    try:
        code = process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"toujours en vie {STOP_TIMEOUT} s après {number.name} :\n"
                    f"{log.read_text()}")
    assert code == 0, log.read_text()
    _, lingering = psutil.wait_procs(children, timeout=5)
    assert not [p for p in lingering if alive(p)], [p.cmdline() for p in lingering]


@pytest.fixture(scope="module")
def addok_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved addok index: the town halls of Corse-du-Sud."""
    addok = LocalAddok(tmp_path_factory.mktemp("addok"), redis_port=free_port())
    with addok.redis_running():
        assert addok.index(town_hall_documents(["2A"])) > 100
    return addok.directory


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_addok_serve_stops_with_its_redis(number: signal.Signals, addok_directory: Path,
                                         tmp_path: Path,
                                         session_killer: list[subprocess.Popen]) -> None:
    redis_port, port = free_port(), free_port()
    log = tmp_path / "serve.log"
    serving = start(cohesion("qpv", "addok", "serve", "--dir", str(addok_directory),
                             "--redis-port", str(redis_port), "--port", str(port)), log)
    session_killer.append(serving)
    wait_for_port("127.0.0.1", port, 60, serving, "cohesion qpv addok serve")
    children = psutil.Process(serving.pid).children(recursive=True)
    names = " ".join(" ".join(child.cmdline()) for child in children)
    assert "redis-server" in names and "cohesion.geo.addok_server" in names
    assert_stops(serving, number, log)
    assert not listening(port) and not listening(redis_port)


def test_addok_server_stops_on_sigterm(addok_directory: Path, tmp_path: Path,
                                       session_killer: list[subprocess.Popen]) -> None:
    """The addok HTTP server alone, as :meth:`LocalAddok.serve` starts it."""
    addok = LocalAddok(addok_directory, redis_port=free_port())
    port = free_port()
    log = tmp_path / "addok.log"
    with addok.redis_running():
        with log.open("wb") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "cohesion.geo.addok_server", "--port", str(port)],
                env=addok.environment(), stderr=output, start_new_session=True,
                preexec_fn=ignore_sigint)
        session_killer.append(server)
        wait_for_port("127.0.0.1", port, 60, server, "le serveur addok")
        assert_stops(server, signal.SIGTERM, log)
    assert not listening(port)


def test_serve_withdraws_its_announcement_on_sigterm(
        built_warehouse_file: Path, tmp_path: Path,
        session_killer: list[subprocess.Popen]) -> None:
    copy = tmp_path / "cohesion.duckdb"
    shutil.copy(built_warehouse_file, copy)
    port = free_port()
    log = tmp_path / "serve.log"
    serving = start(cohesion("--warehouse", str(copy), "serve", "--port", str(port)), log)
    session_killer.append(serving)
    wait_for_port("127.0.0.1", port, 120, serving, "cohesion serve")
    announced = ServerFile.find(copy)
    assert announced is not None and announced.pid == serving.pid
    assert_stops(serving, signal.SIGTERM, log)
    assert not ServerFile.path_of(copy).exists()
    assert not listening(port)


def test_local_dask_workers_stop_with_an_interrupted_batch(
        tmp_path: Path, session_killer: list[subprocess.Popen]) -> None:
    """``qpv locate --dask`` runs its batch in this block: SIGTERM ends it, workers too."""
    script = textwrap.dedent("""
        import time
        from cohesion.geo.distributed import local_client
        from cohesion.shutdown import interrupted_by_signals

        try:
            with interrupted_by_signals(), local_client(workers=2) as client:
                print("workers", len(client.scheduler_info()["workers"]), flush=True)
                time.sleep(600)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """)
    log = tmp_path / "dask.log"
    batch = start(["-c", script], log)
    session_killer.append(batch)
    deadline = time.monotonic() + 120
    while "workers" not in log.read_text():
        assert batch.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    assert "workers 2" in log.read_text(), log.read_text()
    assert len(psutil.Process(batch.pid).children(recursive=True)) >= 2
    assert_stops(batch, signal.SIGTERM, log)
    assert "interrupted" in log.read_text()
