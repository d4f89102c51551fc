"""Stop long-running commands on SIGTERM as on Ctrl-C.

A service (``cohesion serve``, ``cohesion qpv addok serve`` and the addok server it
starts) or a long batch (``cohesion qpv locate``) stops on Ctrl-C through
:exc:`KeyboardInterrupt`: its ``finally`` blocks and ``with`` statements then stop the
processes it started (Redis, addok, Dask workers), close the warehouse and withdraw the
server's announcement. Within :func:`interrupted_by_signals`, SIGTERM (what ``kill``,
systemd, Docker and CI runners send) takes the same path, and so does SIGINT when it
was ignored at start, as in a background job of a non-interactive shell.

Examples
--------
>>> import os, signal
>>> with interrupted_by_signals(service=True):
...     os.kill(os.getpid(), signal.SIGTERM)
...     print("jamais atteint")
>>> signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
True
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def interrupted_by_signals(service: bool = False) -> Iterator[None]:
    """Raise :exc:`KeyboardInterrupt` on SIGTERM and SIGINT within the block.

    Only the first signal interrupts: those that follow are ignored until the block
    has exited, so that the clean-up it runs is not cut short. The previous handlers
    are restored on exit. Outside the main thread, where Python cannot handle signals,
    the block runs unchanged.

    Parameters
    ----------
    service : bool
        The block serves until it is stopped: its interruption is its normal end and
        the :exc:`KeyboardInterrupt` stops there. Otherwise (a batch) it propagates.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
            raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {number: signal.signal(number, interrupt) for number in _SIGNALS}
    try:
        yield
    except KeyboardInterrupt:
        if not service:
            raise
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
