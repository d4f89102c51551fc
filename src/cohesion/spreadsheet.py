"""CSV downloads that a spreadsheet cannot run as formulas.

Excel and LibreOffice read a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a
tab or carriage return before one) as a formula, which can run commands or send data
away when the file is opened (« CSV injection »). Every CSV that Cohésion writes with
text a user wrote (the columns of an uploaded file, names of imported zones) goes
through :func:`neutralise_formulas`, which prefixes such text cells with a single quote,
as OWASP recommends. Numbers, and text that reads as a number (``-3,5``), are untouched.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"nom": ["=HYPERLINK('http://x')", "Lille", "-3,5"],
...                       "valeur": [-1.5, 2.0, 3.0]})
>>> neutralise_formulas(frame)["nom"].tolist()
["'=HYPERLINK('http://x')", 'Lille', '-3,5']
>>> neutralise_formulas(frame)["valeur"].tolist()
[-1.5, 2.0, 3.0]
>>> neutralise_text("@SUM(A1:A9)"), neutralise_text("+33 1 23")
("'@SUM(A1:A9)", "'+33 1 23")
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import pandas as pd

Cell = TypeVar("Cell")

#: What a formula starts with, for a spreadsheet.
_FORMULA = re.compile(r"^[=+\-@\t\r]")
#: Text that is a number (decimal point or comma, exponent): not a formula.
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def neutralise_text(value: Cell) -> Cell:
    """``value``, prefixed with ``'`` when it is text a spreadsheet would run as a formula.

    Anything else (a number, ``None``, text that reads as a number) is returned as it is,
    so that the cells of a CSV row can all go through it.

    Examples
    --------
    >>> neutralise_text("=1+1"), neutralise_text("-12,5"), neutralise_text(-3)
    ("'=1+1", '-12,5', -3)
    """
    if isinstance(value, str) and _FORMULA.match(value) and \
            not _NUMBER.match(value.strip()):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its text cells and column names neutralised (a copy when changed).

    Only object and string columns are looked at; numeric columns are returned as they
    are.
    """
    import pandas as pd

    changed: dict[object, pd.Series] = {}
    for column in frame.columns:
        values = frame[column]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        text = values.where(values.map(lambda v: isinstance(v, str)))
        risky = text.str.match(_FORMULA.pattern, na=False) & \
            ~text.str.strip().str.match(_NUMBER.pattern, na=False)
        if risky.any():
            changed[column] = values.where(~risky, "'" + text)
    result = frame
    if changed:
        result = frame.copy()
        for column, values in changed.items():
            result[column] = values
    names = {c: neutralise_text(c) for c in result.columns if isinstance(c, str)}
    if any(new != old for old, new in names.items()):
        result = result.rename(columns=names)
    return result
