"""Order of observation periods: which one is the latest.

Periods are text in the warehouse, as the sources write them: a year (``2018``), a span
of years (``2013-2018``, a growth rate between two censuses), a month (``2022-03``), a
quarter (``2022-T1``), a semester (``2022-S2``) or a day (``2022-03-31``, the baromètre
des résultats). Compared as text, ``2013-2018`` would come before ``2014`` and
``2022-03-31`` after ``2022-12-01`` only by luck; periods are ordered by the day they
end, then by the day they start (the longer span first).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_YEAR = re.compile(r"^(\d{4})$")
_YEARS = re.compile(r"^(\d{4})-(\d{4})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_PART = re.compile(r"^(\d{4})-([TQS])([1-4])$", re.IGNORECASE)


def period_key(period: str) -> tuple[int, int, int, int, str]:
    """Sort key of a period: (end year, end month, end day, start year, text).

    Unknown shapes sort first, by their text, so that they never pass for the latest.

    Examples
    --------
    >>> sorted(["2022-03-31", "2014", "2013-2018", "2022-12-01"], key=period_key)
    ['2014', '2013-2018', '2022-03-31', '2022-12-01']
    """
    text = period.strip()
    if found := _YEAR.match(text):
        year = int(found[1])
        return (year, 12, 31, year, text)
    if found := _YEARS.match(text):
        return (int(found[2]), 12, 31, int(found[1]), text)
    if found := _DAY.match(text):
        year = int(found[1])
        return (year, int(found[2]), int(found[3]), year, text)
    if found := _MONTH.match(text):
        year = int(found[1])
        return (year, int(found[2]), 31, year, text)
    if found := _PART.match(text):
        year, months = int(found[1]), 6 if found[2].upper() == "S" else 3
        return (year, months * int(found[3]), 31, year, text)
    return (0, 0, 0, 0, text)


def latest_period(periods: Iterable[str]) -> str:
    """The period that ends last (see :func:`period_key`); ValueError when none."""
    return max(periods, key=period_key)


def nearest_period(period: str, available: Iterable[str]) -> str | None:
    """The period of ``available`` nearest to ``period``, an earlier one first.

    The latest period that does not end after ``period``, else the earliest one after
    it; None when ``available`` is empty. Money of 2021 goes with the population of 2020
    rather than with that of 2022, which describes a later year; a later population is
    taken only when no earlier one is loaded. Periods compare by the day they end
    (:func:`period_key`).

    Examples
    --------
    >>> nearest_period("2021", ["2013", "2018", "2020", "2022"])
    '2020'
    >>> nearest_period("2016", ["2018", "2020"])
    '2018'
    >>> nearest_period("2019", []) is None
    True
    """
    key = period_key(period)
    ordered = sorted(set(available), key=period_key)
    before = [p for p in ordered if period_key(p) <= key]
    if before:
        return before[-1]
    return ordered[0] if ordered else None
