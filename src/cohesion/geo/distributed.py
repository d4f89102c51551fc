"""Locate the points of a large file on a Dask cluster.

:func:`locate_file_distributed` does what :func:`cohesion.geo.batch.locate_file` does,
with the work spread over the workers of a ``distributed`` cluster: the QPV index is
sent once to every worker; each worker reads its own part of the input file (a byte
range of a CSV file cut at line ends, a row group of a Parquet file), locates its points
with the same code as the single-machine path, and sends the enriched rows back; the
client writes them in the input's order as they arrive, keeping only a few parts in
flight. The output is the same as the single-machine path's, row for row.

The workers must see the input file at the same path (a shared disk, or a local
cluster). A CSV file is cut at line ends: a quoted value holding a line break is not
supported on this path.

Examples
--------
>>> from cohesion.geo.distributed import local_client  # doctest: +SKIP
>>> with local_client(workers=4) as client:  # doctest: +SKIP
...     locate_file_distributed(index, Path("adresses.csv"), Path("resultat.csv"),
...                             PointColumns(lon="lon", lat="lat"), client)
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import dask
import pandas as pd
import psutil
import pyarrow.parquet as pq
from dask.bytes import read_bytes
from distributed import Client, Future, LocalCluster, Nanny

from cohesion.errors import CohesionError
from cohesion.geo.batch import (
    BatchSummary,
    ChunkWriter,
    InputFile,
    PointColumns,
    Progress,
    locate_frame,
)
from cohesion.geo.locate import DEFAULT_TOLERANCE, QpvIndex

#: Bytes of CSV each worker reads at a time.
DEFAULT_BLOCK_BYTES = 32 << 20

Part = tuple[pd.DataFrame, pd.DataFrame]


@contextmanager
def local_client(workers: int | None = None, processes: bool = True) -> Iterator[Client]:
    """A Dask client on a cluster of this machine, closed on exit.

    Parameters
    ----------
    workers : int, optional
        Worker count (default: one per core), each with one thread.
    processes : bool
        Workers in separate processes (the default) or threads of this process.
    """
    # a free port for the scheduler's HTTP server: another cluster, or a second batch,
    # may hold distributed's default 8787
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                           dashboard_address=":0")
    started = [psutil.Process(nanny.pid) for nanny in cluster.workers.values()
               if isinstance(nanny, Nanny) and nanny.pid]
    try:
        with cluster, Client(cluster) as client:
            yield client
    finally:
        _stop_lingering(started)


def _stop_lingering(processes: list[psutil.Process], timeout: float = 10.0) -> None:
    """Terminate, then kill, the worker processes that outlived their cluster.

    A cluster closed in a hurry (the batch interrupted by SIGTERM or Ctrl-C) may leave
    them behind. :class:`psutil.Process` remembers each one's start time: a process id
    reused since is left alone.
    """
    living = [process for process in processes if process.is_running()]
    for process in living:
        with suppress(psutil.NoSuchProcess):
            process.terminate()
    _, living = psutil.wait_procs(living, timeout)
    for process in living:
        with suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(living, timeout)


def _locate_csv_block(block: bytes, first: bool, source: InputFile, index: QpvIndex,
                      columns: PointColumns, tolerance: float) -> Part:
    """Parse one byte range of a CSV file (the header is added to later ones) and locate it."""
    assert source.layout is not None
    data = block if first else source.layout.header_bytes + block
    try:
        frame = next(source.layout.frames(io.BytesIO(data)))
    except (pd.errors.ParserError, pd.errors.ParserWarning) as error:
        raise source.parser_error(error) from None
    return frame, locate_frame(index, frame, columns, tolerance)


def _locate_row_group(path: str, group: int, index: QpvIndex, columns: PointColumns,
                      tolerance: float) -> Part:
    """Read one row group of a Parquet file and locate it."""
    frame = pq.ParquetFile(path).read_row_group(group).to_pandas(types_mapper=pd.ArrowDtype)
    return frame, locate_frame(index, frame, columns, tolerance)


def locate_file_distributed(index: QpvIndex, source: Path | InputFile, target: Path,
                            columns: PointColumns, client: Client,
                            tolerance: float = DEFAULT_TOLERANCE,
                            block_bytes: int = DEFAULT_BLOCK_BYTES,
                            progress: Progress | None = None) -> BatchSummary:
    """Locate every point of a CSV or Parquet file on a Dask cluster.

    Parameters
    ----------
    index : QpvIndex
        The QPV contours, sent once to every worker.
    source : Path or InputFile
        Input file, as for :func:`cohesion.geo.batch.locate_file`.
    target : Path
        Output file.
    columns : PointColumns
        The coordinate columns.
    client : distributed.Client
        A client of the cluster (see :func:`local_client`).
    tolerance : float
        Distance in metres to a border within which a point is ``probable``.
    block_bytes : int
        Bytes of CSV per part (a Parquet file is cut at its row groups).
    progress : callable, optional
        Called with the number of rows written so far.

    Returns
    -------
    BatchSummary

    Raises
    ------
    InputFileError
        As :func:`cohesion.geo.batch.locate_file` does, and for a part that cannot be
        parsed. The output file is then not written.
    CohesionError
        For address columns: addresses are geocoded and located without Dask.
    """
    if columns.geocoded:
        # the geocoder, not the locating, bounds an address batch: one stream of
        # requests from the client is as fast, and does not multiply the load on it
        raise CohesionError("les adresses se géocodent sans Dask : retirer --dask")
    source_file = source if isinstance(source, InputFile) else InputFile.open(Path(source))
    source_file.check_columns(columns, index)
    shared = client.scatter(index, broadcast=True, hash=False)
    if source_file.layout is None:
        groups = pq.ParquetFile(source_file.path).num_row_groups
        tasks = [dask.delayed(_locate_row_group, pure=False)(
            str(source_file.path), group, shared, columns, tolerance) for group in range(groups)]
    else:
        _, blocks = read_bytes(str(source_file.path), delimiter=b"\n",
                               blocksize=block_bytes, sample=False)
        tasks = [dask.delayed(_locate_csv_block, pure=False)(
            block, number == 0, source_file, shared, columns, tolerance)
            for number, block in enumerate(blocks[0])]
    window = 2 * max(sum(client.nthreads().values()), 1)
    writer = ChunkWriter(Path(target), index.generations, source_file.separator)
    running: deque[Future] = deque()
    try:
        for task in tasks:
            running.append(client.compute(task))
            if len(running) >= window:
                _write(writer, running.popleft(), progress)
        while running:
            _write(writer, running.popleft(), progress)
        if writer.summary.rows == 0:
            raise source_file.no_rows_error()
    except BaseException:
        client.cancel(list(running))
        writer.abort()
        raise
    return writer.close()


def _write(writer: ChunkWriter, future: Future, progress: Progress | None) -> None:
    frame, results = future.result()
    if len(frame):
        writer.write(frame, results)
        if progress is not None:
            progress(writer.summary.rows)
