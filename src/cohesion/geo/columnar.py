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
>>> csv_lines(table, ";").decode().splitlines()
['"a;b";0.0', "'=1+1;220.1", ';']
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cohesion.spreadsheet import _NUMBER

#: A number as Python and Arrow both read it, with a decimal point or comma.
_PLAIN_NUMBER = r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$"
#: Python writes floats of these magnitudes without an exponent, Arrow with one.
_FIXED_FROM, _FIXED_UNTIL = 1e-4, 1e14
#: Cells are large strings: a chunk's text may pass 2 GiB.
_LARGE = pa.large_string()
#: The first characters of text a spreadsheet may run as a formula (as
#: :func:`cohesion.spreadsheet.neutralise_text` tells them).
_FORMULA_STARTS = np.frombuffer(b"=+-@\t\r", dtype=np.uint8)


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
    plain = pc.fill_null(pc.match_substring_regex(values, _PLAIN_NUMBER), False)
    text = pc.if_else(plain, values, "0")
    if pc.any(pc.match_substring(text, ",")).as_py():
        text = pc.replace_substring(text, ",", ".")
    numbers = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False).copy()
    plain_mask = plain.to_numpy(zero_copy_only=False)
    others = np.flatnonzero(~plain_mask)
    numbers[others] = np.nan
    return numbers, others


def csv_lines(table: pa.Table, separator: str) -> bytes:
    """The rows of ``table`` as CSV lines in UTF-8, each ended by a line feed (no header)."""
    if table.num_rows == 0:
        return b""
    cells = [_cells(column.combine_chunks() if isinstance(column, pa.ChunkedArray)
                    else column, separator) for column in table.columns]
    lines = pc.binary_join_element_wise(*cells, _text(separator))
    lines = _concat(lines, "\n")
    buffers = lines.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)
    start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return bytes(memoryview(buffers[2])[start:end])


def _cells(values: pa.Array, separator: str) -> pa.Array:
    """One column as CSV cells (large strings, no null): pandas' ``to_csv`` text."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.dictionary_decode()
        kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _quoted(neutralise(values), separator)
    if pa.types.is_floating(kind):
        return _float_text(values)
    if pa.types.is_boolean(kind):
        return pc.fill_null(pc.if_else(values, _text("True"), _text("False")), _text(""))
    try:
        text = pc.cast(values, _LARGE)
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
    values = values.cast(_LARGE)
    offsets, data = _layout(values)
    starts = offsets[:-1]
    filled = np.flatnonzero(offsets[1:] > starts)
    suspects = filled[np.isin(data[starts[filled]], _FORMULA_STARTS)]
    if not len(suspects):
        return values
    text = values.take(pa.array(suspects))
    number = pc.match_substring_regex(pc.utf8_trim_whitespace(text), _NUMBER.pattern)
    risky = suspects[~number.to_numpy(zero_copy_only=False)]
    if not len(risky):
        return values
    mask = np.zeros(len(values), dtype=bool)
    mask[risky] = True
    return pc.replace_with_mask(values, pa.array(mask),
                                _concat("'", values.take(pa.array(risky))))


def _quoted(values: pa.Array, separator: str) -> pa.Array:
    """Quote the cells holding the separator, a quote or a line feed (as the csv module)."""
    values = pc.fill_null(values.cast(_LARGE), _text(""))
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
    chosen = values.take(pa.array(rows))
    return pc.replace_with_mask(values, pa.array(mask),
                                _concat('"', pc.replace_substring(chosen, '"', '""'), '"'))


def _layout(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The offsets of a large-string array's values and its bytes, without copies."""
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[values.offset:
                                                         values.offset + len(values) + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None \
        else np.zeros(0, dtype=np.uint8)
    return offsets, data


def _float_text(values: pa.Array) -> pa.Array:
    """Floats as Python's ``repr`` writes them (``0.0``, ``220.1``, ``1e-05``); NaN empty."""
    numbers = values.to_numpy(zero_copy_only=False)
    missing = np.isnan(numbers)
    text = pc.cast(pa.array(numbers, mask=missing), _LARGE)
    size = np.abs(numbers)
    with np.errstate(invalid="ignore"):
        fixed = (size >= _FIXED_FROM) & (size < _FIXED_UNTIL) | (size == 0)
        whole = fixed & (numbers == np.trunc(numbers))
    if whole.any():  # Arrow writes 3.0 as "3"
        text = pc.replace_with_mask(text, pa.array(whole),
                                    _concat(text.filter(pa.array(whole)), ".0"))
    elsewhere = np.flatnonzero(np.isfinite(numbers) & ~fixed)
    if len(elsewhere):  # very large or very small: rare, written one by one
        mask = np.zeros(len(numbers), dtype=bool)
        mask[elsewhere] = True
        text = pc.replace_with_mask(text, pa.array(mask), pa.array(
            [repr(float(v)) for v in numbers[elsewhere]], type=_LARGE))
    return pc.fill_null(text, _text(""))


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, _LARGE)


def _concat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of columns and constant text (large strings)."""
    return pc.binary_join_element_wise(
        *(_text(part) if isinstance(part, str) else part for part in parts), _text(""))
