"""Projected coordinate reference systems for areas and distances.

Areas and distances are never computed in longitude/latitude. Metropolitan France uses
Lambert-93 (EPSG:2154); each overseas département uses its official local CRS.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

WGS84 = "EPSG:4326"
LAMBERT_93 = "EPSG:2154"

#: Official projected CRS of each overseas département (and collectivité).
LOCAL_CRS: dict[str, str] = {
    "971": "EPSG:5490",  # Guadeloupe: RGAF09 / UTM 20N
    "972": "EPSG:5490",  # Martinique: RGAF09 / UTM 20N
    "973": "EPSG:2972",  # Guyane: RGFG95 / UTM 22N
    "974": "EPSG:2975",  # La Réunion: RGR92 / UTM 40S
    "976": "EPSG:4471",  # Mayotte: RGM04 / UTM 38S
    "975": "EPSG:4467",  # Saint-Pierre-et-Miquelon: RGSPM06 / UTM 21N
    "977": "EPSG:5490",  # Saint-Barthélemy
    "978": "EPSG:5490",  # Saint-Martin
}


def projected_crs_for(code: str | None) -> str:
    """Return the projected CRS in which to measure a territory.

    ``code`` is a département code or a commune code (its first three characters
    name an overseas département); anything else is measured in Lambert-93.

    Examples
    --------
    >>> projected_crs_for("93"), projected_crs_for("974"), projected_crs_for("97411")
    ('EPSG:2154', 'EPSG:2975', 'EPSG:2975')
    """
    if not isinstance(code, str):
        return LAMBERT_93
    return LOCAL_CRS.get(code[:3], LAMBERT_93)


#: Where each projected CRS is used, as a longitude/latitude box (the EPSG areas of use,
#: except Guyane's, which stops at 54°W although the territory reaches the Maroni).
ZONES: dict[str, tuple[float, float, float, float]] = {
    LAMBERT_93: (-9.86, 41.15, 10.38, 51.56),  # France métropolitaine et Corse
    "EPSG:5490": (-63.66, 14.08, -60.0, 18.31),  # Guadeloupe, Martinique, îles du Nord
    "EPSG:2972": (-54.7, 2.1, -49.45, 8.88),  # Guyane
    "EPSG:2975": (54.0, -24.72, 58.24, -18.28),  # La Réunion
    "EPSG:4471": (43.68, -14.49, 46.7, -11.33),  # Mayotte
    "EPSG:4467": (-57.1, 43.41, -55.9, 47.37),  # Saint-Pierre-et-Miquelon
}
_ZONE_BOXES = np.array(list(ZONES.values()))


def zone_of(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Index in :data:`ZONES` of the territory of each point (int8), -1 outside France."""
    zone = np.full(len(lon), -1, dtype=np.int8)
    for number, (west, south, east, north) in enumerate(_ZONE_BOXES):
        zone[(zone < 0) & (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)] = number
    return zone


@cache
def transformer(source: str, target: str) -> Transformer:
    """A cached, always-xy transformer between two CRS."""
    return Transformer.from_crs(CRS.from_user_input(source), CRS.from_user_input(target),
                                always_xy=True)


def reproject(geometries: np.ndarray, source: str, target: str) -> np.ndarray:
    """Reproject an array of shapely geometries (vectorised over all coordinates)."""
    if CRS.from_user_input(source) == CRS.from_user_input(target):
        return geometries
    forward = transformer(source, target)
    return shapely.transform(geometries, lambda xy: np.column_stack(
        forward.transform(xy[:, 0], xy[:, 1])))


def areas_km2(geometries: np.ndarray, places: np.ndarray,
              source: str = WGS84) -> tuple[np.ndarray, np.ndarray]:
    """Areas in km², each measured in the projected CRS of its place.

    Parameters
    ----------
    geometries : array of shapely geometries
        In ``source`` CRS.
    places : array of str or None
        Département or commune code of each geometry (selects the projected CRS).

    Returns
    -------
    areas : ndarray of float
    crs : ndarray of str
        The CRS each area was measured in.
    """
    crs = np.array([projected_crs_for(d) for d in places], dtype=object)
    areas = np.full(len(geometries), np.nan)
    for target in np.unique(crs):
        chosen = crs == target
        areas[chosen] = shapely.area(reproject(geometries[chosen], source, target)) / 1e6
    return areas, crs
