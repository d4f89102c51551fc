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

from cohesion.geo.batch import BatchSummary, PointColumns, locate_file
from cohesion.geo.geocoding import AddokGeocoder, Geocoded, Geocoder, GeocoderError
from cohesion.geo.locate import (
    BANDS,
    QUALITIES,
    CommuneLayer,
    Location,
    QpvIndex,
    QpvLayer,
    read_communes_with_qpv,
)

__all__ = ["BANDS", "QUALITIES", "AddokGeocoder", "BatchSummary", "CommuneLayer", "Geocoded",
           "Geocoder", "GeocoderError", "Location", "PointColumns", "QpvIndex", "QpvLayer",
           "locate_file", "read_communes_with_qpv"]
