"""The caches of the core: answers kept in memory, keyed by the warehouse's version.

Every key a cache holds ends with the warehouse's content version, so that an import is
visible at once; old entries simply age out.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JsonBytes:
    """A JSON answer serialised once: its bytes, and gzip-compressed when worth it.

    Examples
    --------
    >>> JsonBytes.of({"a": 1}).plain
    b'{"a":1}'
    """

    plain: bytes
    gzipped: bytes | None

    #: Below this size, compressing costs more than it saves.
    GZIP_FROM = 1400

    @classmethod
    def of(cls, document: Any) -> JsonBytes:
        """Serialise ``document`` (compact, UTF-8) and compress it if large."""
        plain = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        gzipped = gzip.compress(plain, compresslevel=6) if len(plain) >= cls.GZIP_FROM \
            else None
        return cls(plain, gzipped)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header lets an answer be sent gzip-compressed.

    ``gzip`` (or ``x-gzip``, or ``*`` when gzip is not named) with a weight above 0
    does; ``identity`` alone, ``gzip;q=0`` and no header at all do not.

    Examples
    --------
    >>> [accepts_gzip(h) for h in ("gzip, deflate, br", "identity", "gzip;q=0", None)]
    [True, False, False, False]
    >>> accepts_gzip("*;q=0.5"), accepts_gzip("gzip;q=0, *")
    (True, False)
    """
    weights: dict[str, float] = {}
    for part in (accept_encoding or "").lower().split(","):
        coding, _, parameters = part.partition(";")
        weight = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.strip().partition("=")
            if key == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding.strip():
            weights[coding.strip()] = weight
    named = weights.get("gzip", weights.get("x-gzip"))
    return (named if named is not None else weights.get("*", 0.0)) > 0


class ResultCache:
    """A thread-safe least-recently-used cache that computes each missing key once.

    When two threads ask for the same uncomputed key at once, the second waits for the
    first's result instead of computing it again (a typology of every commune is worth
    waiting for).

    Examples
    --------
    >>> cache = ResultCache(2)
    >>> cache.get("a", lambda: 1), cache.get("a", lambda: 2), cache.peek("b")
    (1, 1, None)
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()
        self.pending: dict[Hashable, threading.Lock] = {}

    def peek(self, key: Hashable) -> Any:
        """The value of ``key`` if cached, else None (never computes)."""
        with self.lock:
            return self.items.get(key)

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value of ``key``, computed by ``compute()`` if it is not cached."""
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            key_lock = self.pending.setdefault(key, threading.Lock())
        with key_lock:
            with self.lock:
                if key in self.items:  # computed by another thread while this one waited
                    return self.items[key]
            try:
                value = compute()
            finally:
                with self.lock:
                    self.pending.pop(key, None)
            with self.lock:
                self.items[key] = value
                while len(self.items) > self.size:
                    self.items.popitem(last=False)
        return value


#: Stores of values derived from a warehouse's content, by :func:`materialised` key.
_MATERIALISED = ResultCache(8)


def materialised(content_key: Hashable | None) -> dict[Hashable, Any]:
    """The store of values computed from a warehouse as it is now, shared in the process.

    ``content_key`` is the warehouse's
    :meth:`~cohesion.store.warehouse.Warehouse.content_key`: an import or a build gives a
    new key, hence an empty store, and the stores of older contents age out. Without a
    key (an in-memory warehouse) the store is new and shared with no one.

    Entries are computed from the content alone and never modified once stored (arrays
    are stored read-only), so threads may share them.

    Examples
    --------
    >>> materialised(("a.duckdb", 1)) is materialised(("a.duckdb", 1))
    True
    >>> materialised(("a.duckdb", 2)) is materialised(("a.duckdb", 1)), materialised(None)
    (False, {})
    """
    if content_key is None:
        return {}
    return _MATERIALISED.get(content_key, dict)


def forget_materialised() -> None:
    """Empty every store of :func:`materialised` (what the first request after start finds)."""
    with _MATERIALISED.lock:
        _MATERIALISED.items.clear()
