"""Arrow columns to CSV text and back, with no Python loop over the rows.

The batch (:mod:`cohesion.geo.batch`) reads, parses and writes a million rows a second
through these functions: Arrow's C++ kernels do the work a column at a time.

- :func:`parse_numbers`: coordinates written as text (a decimal comma accepted) to
  floats; only the values that are not plain numbers are looked at one by one, to
  explain them;
- :func:`csv_lines`: a table to the lines of a CSV file, byte for byte as
  :meth:`pandas.DataFrame.to_csv` writes them (minimal quoting, floats as Python
  writes them, empty cells for missing values), text a spreadsheet would run as a
  formula neutralised as :func:`cohesion.spreadsheet.neutralise_text` does.

Examples
--------
>>> import pyarrow as pa
>>> table = pa.table({"nom": ["a;b", "=1+1", None], "distance": [0.0, 220.1, float("nan")]})
>>> csv_lines(table, ";").to_pybytes().decode().splitlines()
['"a;b";0.0', "'=1+1;220.1", ';']
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cohesion.spreadsheet import _NUMBER

#: A number as Python and Arrow both read it, with a decimal point or comma.
_PLAIN_NUMBER = r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$"
#: The memory of the Arrow arrays made here, a chunk's worth each. glibc's allocator
#: (Arrow's system pool) reuses what a chunk frees for the next; mimalloc, Arrow's
#: default, commits fresh memory for them, at a cost in system time of about the user
#: time of writing the CSV lines (measured: 0.33 s of system time for 1 M rows).
POOL = pa.system_memory_pool()
#: Below this, a double that is a whole number of hundredths has an ulp under 0.002:
#: ``repr`` writes it with its hundredths' digits (and fixed, not with an exponent).
_HUNDREDTHS_UNTIL = 1e13
#: The decimals of 0 to 99 hundredths as ``repr`` ends a number: 0, 01… 09, 1, 11…
_HUNDREDTH_DIGITS = pa.array(["0" if h == 0 else str(h // 10) if h % 10 == 0 else f"{h:02d}"
                              for h in range(100)], type=pa.large_string())
#: Python writes floats of these magnitudes without an exponent (Arrow not always).
_FIXED_FROM, _FIXED_UNTIL = 1e-4, 1e16
#: Cells are large strings: a chunk's text may pass 2 GiB.
_LARGE = pa.large_string()
#: The first characters of text a spreadsheet may run as a formula (as
#: :func:`cohesion.spreadsheet.neutralise_text` tells them).
_FORMULA_STARTS = np.frombuffer(b"=+-@\t\r", dtype=np.uint8)

S = TypeVar("S")
V = TypeVar("V")


def parse_numbers(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The numbers of a column of text; which values are not plain numbers.

    A plain number (``48.85``, ``-2,35``, ``1e3``) is read in C++; the other values
    (empty, spaces, ``inf``, ``nord``…), usually few, are left to the caller.

    Returns
    -------
    numbers : ndarray of float
        NaN where the value is not a plain number.
    others : ndarray of int
        Positions of the values that are not plain numbers (nulls included).

    Examples
    --------
    >>> numbers, others = parse_numbers(pa.array(["2,35", "48.8", "", None, " 1"]))
    >>> numbers[:2].tolist(), others.tolist()
    ([2.35, 48.8], [2, 3, 4])
    """
    numbers = _numbers_at_once(values)
    if numbers is not None:
        return numbers, np.zeros(0, dtype=np.int64)
    plain = pc.fill_null(pc.match_substring_regex(values, _PLAIN_NUMBER), False)
    text = pc.if_else(plain, values, "0", memory_pool=POOL)
    if pc.any(pc.match_substring(text, ",")).as_py():
        text = pc.replace_substring(text, ",", ".", memory_pool=POOL)
    numbers = pc.cast(text, pa.float64(), memory_pool=POOL).to_numpy(
        zero_copy_only=False).copy()
    plain_mask = plain.to_numpy(zero_copy_only=False)
    others = np.flatnonzero(~plain_mask)
    numbers[others] = np.nan
    return numbers, others


def _numbers_at_once(values: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """The numbers of a column of plain numbers, else None.

    Arrow's cast reads the column in one go; it refuses what is not a number (``1-2``,
    ``1e``, ``2,35``, spaces, an empty value), and the caller then looks at the values
    one kind at a time. It also reads ``nan`` and ``inf``, which are not plain
    numbers: a column holding any number that is not finite is looked at value by
    value too. What is left is a plain number, read as :func:`parse_numbers` reads it.
    """
    if values.null_count:
        return None
    try:
        numbers = pc.cast(values, pa.float64(), memory_pool=POOL).to_numpy(
            zero_copy_only=False).copy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return numbers if np.isfinite(numbers).all() else None


def csv_lines(table: pa.Table, separator: str) -> pa.Buffer:
    """The rows of ``table`` as CSV lines in UTF-8, each ended by a line feed (no header).

    The lines are Arrow's memory, not copied: a buffer to write as it is.
    """
    if table.num_rows == 0:
        return pa.py_buffer(b"")
    columns = [column.combine_chunks(POOL) if isinstance(column, pa.ChunkedArray) else column
               for column in table.columns]
    cells = []
    for run in _dictionary_runs(columns):
        cells.append(_joined_cells(run, separator) if len(run) > 1 else
                     _cells(run[0], separator))
    cells[-1] = _concat(cells[-1], "\n")  # the line end: the data of the lines is the file
    lines = pc.binary_join_element_wise(*cells, _text(separator), memory_pool=POOL)
    buffers = lines.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)
    start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return buffers[2].slice(start, end - start)


def _dictionary_runs(columns: list[pa.Array]) -> list[list[pa.Array]]:
    """The columns in runs, in order: adjacent dictionary-encoded columns together.

    A run's combinations of codes fit 62 bits; any other column is a run of its own.
    """
    runs: list[list[pa.Array]] = []
    combinations = 0
    for column in columns:
        if pa.types.is_dictionary(column.type):
            size = len(column.dictionary) + 1  # (and null)
            if runs and pa.types.is_dictionary(runs[-1][-1].type) and \
                    combinations * size < 1 << 62:
                runs[-1].append(column)
                combinations *= size
                continue
            combinations = size
        runs.append([column])
    return runs


def _joined_cells(columns: list[pa.Array], separator: str) -> pa.Array:
    """Adjacent dictionary-encoded columns as the CSV text of their joined cells.

    Each distinct combination of values is written once, then taken for each row: the
    columns of codes (QPV, quality, band…) of a chunk have few combinations.
    """
    key = np.zeros(len(columns[0]), dtype=np.int64)
    sizes = []
    for column in columns:
        size = len(column.dictionary)  # null: code ``size``
        key = key * (size + 1) + pc.coalesce(column.indices, pa.scalar(size, pa.int32()),
                                             memory_pool=POOL).to_numpy()
        sizes.append(size + 1)
    encoded = pc.dictionary_encode(_arrow(key), memory_pool=POOL)
    combinations = encoded.dictionary.to_numpy()
    parts = []
    for column, size in zip(reversed(columns), reversed(sizes), strict=True):
        combinations, codes = np.divmod(combinations, size)
        cells = pa.concat_arrays([_dictionary_cells(column.dictionary, separator),
                                  pa.array([""], _LARGE)], memory_pool=POOL)
        parts.append(pc.take(cells, _arrow(codes), memory_pool=POOL))
    joined = pc.binary_join_element_wise(*reversed(parts), _text(separator), memory_pool=POOL)
    return pc.take(joined, encoded.indices, memory_pool=POOL)


class SourceCache(Generic[S, V]):
    """Values made once from sources given again and again (the index's arrays…).

    A source is found by a key (its ``id``, the address of its memory…) and checked to
    be the one cached (``same``). Each entry keeps its source alive, so that its key is
    not reused for another while cached; the cache is emptied when it holds ``size``
    entries.
    """

    def __init__(self, same: Callable[[S, S], bool], size: int = 64) -> None:
        self._same = same
        self._size = size
        self._entries: dict[Hashable, tuple[S, V]] = {}

    def get(self, key: Hashable, source: S, make: Callable[[S], V]) -> V:
        """The value made from ``source``: cached, or ``make(source)`` (then cached)."""
        known = self._entries.get(key)
        if known is not None and self._same(known[0], source):
            return known[1]
        value = make(source)
        if len(self._entries) >= self._size:
            self._entries.clear()
        self._entries[key] = (source, value)
        return value


#: The CSV cells of dictionaries, by the address of their memory: the batch's coded
#: columns take their dictionaries (the index's codes and names, the qualities…) from
#: the same arrays chunk after chunk.
_DICTIONARY_CELLS: SourceCache[pa.Array, pa.Array] = SourceCache(pa.Array.equals)


def _dictionary_cells(dictionary: pa.Array, separator: str) -> pa.Array:
    """:func:`_cells` of a dictionary, made once for every chunk sharing it."""
    values = dictionary.buffers()[1]
    key = (values.address if values else 0, dictionary.offset, len(dictionary), separator)
    return _DICTIONARY_CELLS.get(key, dictionary, lambda known: _cells(known, separator))


def _cells(values: pa.Array, separator: str) -> pa.Array:
    """One column as CSV cells (large strings, no null): pandas' ``to_csv`` text."""
    kind = values.type
    if pa.types.is_dictionary(kind):  # each distinct value written once
        return pc.coalesce(pc.take(_dictionary_cells(values.dictionary, separator),
                                   values.indices, memory_pool=POOL),
                           _text(""), memory_pool=POOL)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _quoted(neutralise(values), separator)
    if pa.types.is_floating(kind):
        return _float_text(values)
    if pa.types.is_boolean(kind):
        return pc.coalesce(pc.if_else(values, _text("True"), _text("False"), memory_pool=POOL),
                           _text(""), memory_pool=POOL)
    try:
        text = pc.cast(values, _LARGE, memory_pool=POOL)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        text = pa.array([None if value is None else str(value) for value in
                         values.to_pylist()], type=_LARGE)
    return _quoted(text, separator)


def neutralise(values: pa.Array) -> pa.Array:
    """Text a spreadsheet would run as a formula, prefixed with ``'`` (as large strings).

    The same rule as :func:`cohesion.spreadsheet.neutralise_text`, a column at a time:
    only the values starting with one of its characters are looked at closer.

    Examples
    --------
    >>> neutralise(pa.array(["=SOMME(A1)", "-12,5", "-x", "texte", None])).to_pylist()
    ["'=SOMME(A1)", '-12,5', "'-x", 'texte', None]
    """
    values = pc.cast(values, _LARGE, memory_pool=POOL)
    offsets, data = _layout(values)
    starts = offsets[:-1]
    filled = np.flatnonzero(offsets[1:] > starts)
    suspects = filled[np.isin(data[starts[filled]], _FORMULA_STARTS)]
    if not len(suspects):
        return values
    text = pc.take(values, _arrow(suspects), memory_pool=POOL)
    number = pc.match_substring_regex(pc.utf8_trim_whitespace(text, memory_pool=POOL),
                                      _NUMBER.pattern, memory_pool=POOL)
    risky = suspects[~number.to_numpy(zero_copy_only=False)]
    if not len(risky):
        return values
    mask = np.zeros(len(values), dtype=bool)
    mask[risky] = True
    return pc.replace_with_mask(values, _arrow(mask), _concat(
        "'", pc.take(values, _arrow(risky), memory_pool=POOL)), memory_pool=POOL)


def _quoted(values: pa.Array, separator: str) -> pa.Array:
    """Quote the cells holding the separator, a quote or a line feed (as the csv module)."""
    values = pc.coalesce(pc.cast(values, _LARGE, memory_pool=POOL), _text(""),
                         memory_pool=POOL)
    offsets, data = _layout(values)
    used = data[offsets[0]:offsets[-1]]
    characters = f'{separator}"\n'.encode()
    text = used.tobytes()
    if not any(text.find(character) >= 0 for character in characters):  # memchr, no pass
        return values
    special = (used == characters[0]) | (used == characters[1]) | (used == characters[2])
    rows = np.unique(np.searchsorted(offsets, offsets[0] + np.flatnonzero(special),
                                     side="right") - 1)
    mask = np.zeros(len(values), dtype=bool)
    mask[rows] = True
    chosen = pc.take(values, _arrow(rows), memory_pool=POOL)
    return pc.replace_with_mask(values, _arrow(mask), _concat(
        '"', pc.replace_substring(chosen, '"', '""', memory_pool=POOL), '"'), memory_pool=POOL)


def _layout(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The offsets of a large-string array's values and its bytes, without copies."""
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[values.offset:
                                                         values.offset + len(values) + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None \
        else np.zeros(0, dtype=np.uint8)
    return offsets, data


def _float_text(values: pa.Array) -> pa.Array:
    """Floats as Python's ``repr`` writes them (``0.0``, ``220.1``, ``1e-05``); NaN empty.

    A double equal to a whole number of hundredths under :data:`_HUNDREDTHS_UNTIL`
    (distances rounded to the centimetre) is written from that integer: its decimal
    digits are then ``repr``'s, no shorter number of digits reading back as the same
    double. Arrow writes the others, corrected where it differs from Python.
    """
    numbers = values.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore", over="ignore"):
        cents = np.rint(numbers * 100)
        simple = (cents / 100 == numbers) & (np.abs(numbers) < _HUNDREDTHS_UNTIL) & ~(
            (numbers == 0) & np.signbit(numbers)) & (values.type == pa.float64())
    units, hundredths = np.divmod(np.abs(cents[simple]).astype(np.int64), 100)
    written = pc.binary_join_element_wise(
        pc.cast(_arrow(units), _LARGE, memory_pool=POOL),
        pc.take(_HUNDREDTH_DIGITS, _arrow(hundredths), memory_pool=POOL),
        _text("."), memory_pool=POOL)
    negative = numbers[simple] < 0
    if negative.any():
        written = pc.if_else(_arrow(negative), _concat("-", written), written,
                             memory_pool=POOL)
    others = ~simple & ~np.isnan(numbers)
    # each row takes its text: written, else the others', else empty (NaN)
    rows = np.full(len(numbers), len(written) + others.sum())
    rows[simple] = np.arange(len(written))
    rows[others] = len(written) + np.arange(others.sum())
    return pc.take(pa.concat_arrays([written, _any_float_text(numbers[others]),
                                     pa.array([""], _LARGE)], memory_pool=POOL),
                   _arrow(rows), memory_pool=POOL)


def _any_float_text(numbers: np.ndarray) -> pa.Array:
    """:func:`_float_text` of any floats, by Arrow's cast then Python where they differ."""
    missing = np.isnan(numbers)
    text = pc.cast(pa.array(numbers, mask=missing, memory_pool=POOL), _LARGE, memory_pool=POOL)
    size = np.abs(numbers)
    with np.errstate(invalid="ignore"):
        fixed = (size >= _FIXED_FROM) & (size < _FIXED_UNTIL) | (size == 0)
    # Arrow writes large numbers (1e+10) with an exponent where Python does not
    fixed &= ~pc.coalesce(pc.match_substring(text, "e", memory_pool=POOL), False,
                          memory_pool=POOL).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        whole = fixed & (numbers == np.trunc(numbers))
    if whole.any():  # Arrow writes 3.0 as "3"
        text = pc.replace_with_mask(text, _arrow(whole), _concat(
            pc.filter(text, _arrow(whole), memory_pool=POOL), ".0"), memory_pool=POOL)
    elsewhere = np.flatnonzero(np.isfinite(numbers) & ~fixed)
    if len(elsewhere):  # very large or very small: rare, written one by one
        mask = np.zeros(len(numbers), dtype=bool)
        mask[elsewhere] = True
        text = pc.replace_with_mask(text, _arrow(mask), pa.array(
            [repr(float(v)) for v in numbers[elsewhere]], type=_LARGE), memory_pool=POOL)
    return pc.coalesce(text, _text(""), memory_pool=POOL)


def _arrow(values: np.ndarray) -> pa.Array:
    """A NumPy array as an Arrow array in :data:`POOL`."""
    return pa.array(values, memory_pool=POOL)


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, _LARGE)


def _concat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of columns and constant text (large strings)."""
    return pc.binary_join_element_wise(
        *(_text(part) if isinstance(part, str) else part for part in parts), _text(""),
        memory_pool=POOL)
