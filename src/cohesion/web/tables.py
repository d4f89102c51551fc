"""Tables answered as JSON records or as CSV downloads, the same way by every route.

A route offering both formats declares :data:`JSON_OR_CSV` in its OpenAPI responses,
answers :func:`records` for JSON and :func:`csv_download` for CSV: text cells that a
spreadsheet would run as formulas are neutralised there
(:func:`~cohesion.core.exports.csv_text`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Response

from cohesion.core.exports import csv_text

#: The OpenAPI responses of a route answering JSON or CSV (``format=csv``).
JSON_OR_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/csv": {}}}}


def json_value(value: Any) -> Any:
    """A JSON value: None for NaN and missing values, Python numbers (exact floats)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return json_value(value.item())
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a table as JSON objects (:func:`json_value` for each cell)."""
    return [{k: json_value(v) for k, v in row.items()} for row in frame.to_dict("records")]


def csv_download(table: pd.DataFrame | str, filename: str) -> Response:
    """A table (or CSV text already made) as a CSV file to download."""
    text = table if isinstance(table, str) else csv_text(table)
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def table_answer(table: pd.DataFrame, format: str, filename: str,
                 with_attrs: bool = False) -> Any:
    """A route's answer: the CSV download, or the rows (after the table's ``attrs``)."""
    if format == "csv":
        return csv_download(table, filename)
    rows = records(table)
    return {**table.attrs, "rows": rows} if with_attrs else rows
