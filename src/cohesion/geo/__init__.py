"""Geo-referencing of points in the QPV (quartiers prioritaires de la politique de la ville).

- :class:`QpvIndex` locates arrays of points (longitude/latitude, or x/y in any CRS)
  in the QPV of the 2015 and 2024 generations: QPV, quality class, distance, ONPV band
  and commune of each point.
- :func:`locate_file` does it for a CSV or Parquet file, streaming;
  :func:`cohesion.geo.distributed.locate_file_distributed` on a Dask cluster.
- :class:`AddokGeocoder` geocodes addresses first (the BAN, or a local addok run by
  :class:`cohesion.geo.geocoding.LocalAddok`).

See ``docs/qpv.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: The module of each public name: imported on first use (PEP 562), so that importing
#: one module of the package, the light :mod:`cohesion.geo.geocoding` say, does not
#: load shapely through the others.
_EXPORTS = {
    **dict.fromkeys(["BatchSummary", "PointColumns", "locate_file"], "batch"),
    **dict.fromkeys(["AddokGeocoder", "Geocoded", "Geocoder", "GeocoderError"], "geocoding"),
    **dict.fromkeys(["BANDS", "QUALITIES", "CommuneLayer", "Location", "QpvIndex",
                     "QpvLayer", "read_communes_with_qpv"], "locate"),
}

__all__ = ["BANDS", "QUALITIES", "AddokGeocoder", "BatchSummary", "CommuneLayer", "Geocoded",
           "Geocoder", "GeocoderError", "Location", "PointColumns", "QpvIndex", "QpvLayer",
           "locate_file", "read_communes_with_qpv"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
