"""Équipements mapped in an OpenStreetMap file (``.osm.pbf``, ``.osm``), as points.

Where the BPE does not reach (Saint-Barthélemy, Saint-Martin), or for what it does not
list, OpenStreetMap's contributors map pharmacies, schools, post offices, the chef-lieu
(``place=town``)… Each object with one of the keys asked for (:data:`KEYS` by default)
becomes an équipement of type ``osm_{key}_{value}`` (``osm_amenity_pharmacy``): a node
at its position, a way at the mean of its nodes. Street furniture that no one travels
to (benches, bicycle stands, waste baskets: :data:`EXCLUDED`) is left out, counted in
the notes; relations (multipolygons) too.

Data © OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportBatch, Importer, ImportOptions
from cohesion.store.warehouse import Warehouse

#: The keys whose objects are équipements by default.
KEYS = ("amenity", "shop", "healthcare", "office", "leisure", "tourism", "aeroway", "place")
#: Values of those keys that are not places people travel to.
EXCLUDED = frozenset({
    "bench", "bicycle_parking", "parking_space", "motorcycle_parking", "waste_basket",
    "waste_disposal", "vending_machine", "post_box", "recycling", "drinking_water",
    "telephone", "clock", "grit_bin", "taxiway", "apron", "runway", "islet", "island",
    "state", "neighbourhood", "locality", "hamlet", "isolated_dwelling", "square", "farmland",
    "pitch", "nature_reserve", "viewpoint", "information", "picnic_table", "shelter",
    "hunting_stand", "atm", "charging_station", "parking", "parking_entrance", "yes"})


def type_key(key: str, value: str) -> str:
    """The équipement type of an OSM tag.

    >>> type_key("amenity", "pharmacy")
    'osm_amenity_pharmacy'
    """
    text = f"osm_{key}_{value}".lower()
    return "".join(c if c.isalnum() or c == "_" else "_" for c in text)[:40]


class OsmPoints(Importer):
    """Points of interest of an OpenStreetMap extract, as équipements.

    Options: ``tags`` (keys to read, comma-separated; default :data:`KEYS`).
    """

    name = "osm-points"
    title = "OpenStreetMap : équipements cartographiés"
    producer = "Contributeurs d'OpenStreetMap"
    licence: ClassVar[str] = "ODbL 1.0 (© les contributeurs d'OpenStreetMap)"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        import osmium

        keys = tuple(str(options.extra.get("tags", ",".join(KEYS))).split(","))
        rows: list[tuple[str, str, float, float]] = []
        excluded = relations = 0
        try:
            for item in osmium.FileProcessor(str(path)).with_locations():
                found = next(((k, item.tags[k]) for k in keys if k in item.tags), None)
                if found is None:
                    continue
                if found[1] in EXCLUDED:
                    excluded += 1
                    continue
                if item.is_relation():
                    relations += 1
                    continue
                if item.is_node():
                    lon, lat = item.location.lon, item.location.lat
                else:
                    places = [(n.lon, n.lat) for n in item.nodes if n.location.valid()]
                    if not places:
                        continue
                    lon, lat = (float(v) for v in np.mean(places, axis=0))
                rows.append((type_key(*found), item.tags.get("name", found[1]), lon, lat))
        except RuntimeError as error:
            raise InputFileError(path, f"fichier OpenStreetMap illisible ({error})",
                                 expected="un extrait OpenStreetMap .osm.pbf ou .osm",
                                 found=path.name) from None
        if not rows:
            raise InputFileError(path, "aucun équipement dans le fichier",
                                 expected=f"des objets portant l'une des clés {', '.join(keys)}",
                                 found="aucun")
        equipments = pd.DataFrame(rows, columns=["typequ", "label", "longitude", "latitude"])
        equipments = equipments.assign(domain="osm", code_commune=None)
        counts = equipments["typequ"].value_counts()
        notes = [f"{len(equipments):,} équipements OpenStreetMap de {len(counts)} types : "
                 + ", ".join(f"{t} {n}" for t, n in counts.head(10).items())]
        if excluded:
            notes.append(f"{excluded:,} objets de mobilier urbain ou de lieux-dits exclus")
        if relations:
            notes.append(f"{relations:,} relations (multipolygones) non lues")
        return ImportBatch(tables={"equipments": equipments}, rows=len(equipments),
                           notes=notes)
