"""Accès aux services: the accessibility measures of the observatory.

:class:`AccessService` hangs from :attr:`Observatory.access
<cohesion.core.observatory.Observatory.access>`; the CLI (``cohesion access``), the web
page « Accès aux services » and the API all call it. A computation reads the warehouse
through a reader (the long part: network, routing) and writes its results as one
dataset only at the end, so the web keeps answering meanwhile.

Examples
--------
>>> from cohesion.core import Observatory
>>> from cohesion.access.compute import AccessRequest
>>> core = Observatory("var/cohesion.duckdb")                          # doctest: +SKIP
>>> core.access.compute(AccessRequest(("D201",), "marche",
...                                   network=Path("paris.osm.pbf")))  # doctest: +SKIP
>>> core.access.zones("d201_marche", 15)                               # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cohesion.access.compute import AccessRequest, equipment_type_label
from cohesion.access.measures import ZONE_LABELS, ZONES, weighted_median
from cohesion.errors import CohesionError, NotFoundError
from cohesion.store.schema import REASON_LABELS

if TYPE_CHECKING:
    from cohesion.core.observatory import Observatory

#: Extensions of the network files the web page may compute on.
NETWORK_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")
#: The comparison the ONPV makes: residents of the QPV against the others of the same
#: communes, and the communes without QPV; « non couvert » where QPV are not loaded.
NOT_COVERED = "non_couvert"
TABLE_LEVELS = ("COM", "EPCI", "DEP", "REG", "QPV")
#: Background computations remembered for their progress page.
KEPT_JOBS = 50
#: The threshold a portrait shows (the ONPV's « à moins de 15 minutes à pied »).
HEADLINE_MINUTES = 15


class UnknownMeasureError(NotFoundError):
    """A measure never computed."""


@dataclass
class Job:
    """A computation running in the background, for the web page's progress."""

    id: str
    request: AccessRequest
    state: str = "en cours"  # en cours, terminé, échec
    steps: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str | None = None

    def document(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "steps": list(self.steps),
                "step": self.steps[-1] if self.steps else None,
                "result": self.result, "error": self.error}


class AccessService:
    """Compute, list and read the accessibility measures of one warehouse.

    Parameters
    ----------
    observatory : Observatory
    """

    def __init__(self, observatory: Observatory) -> None:
        self.observatory = observatory
        self._jobs: dict[str, Job] = {}
        self._running = threading.BoundedSemaphore(1)

    # -- inputs ---------------------------------------------------------------------

    def equipment_types(self) -> list[dict[str, Any]]:
        """The équipement types held, with their French name and count."""
        found = self.observatory.reader().equipment_types()
        return [{"type": row.typequ, "domain": row.domain,
                 "label": equipment_type_label(
                     row.typequ, row.label if isinstance(row.label, str) else row.typequ),
                 "count": int(row.count)} for row in found.itertuples()]

    def networks(self) -> list[dict[str, Any]]:
        """The network files of the configured folder (``COHESION_NETWORKS``)."""
        folder = self.observatory.settings.networks
        if folder is None or not folder.is_dir():
            return []
        return [{"name": path.name, "size": path.stat().st_size}
                for path in sorted(folder.iterdir())
                if path.is_file() and path.name.lower().endswith(NETWORK_SUFFIXES)]

    def network_path(self, name: str) -> Path:
        """The file of a network named by the page (only those of the folder)."""
        for network in self.networks():
            if network["name"] == name:
                assert self.observatory.settings.networks is not None
                return self.observatory.settings.networks / name
        raise NotFoundError(f"réseau inconnu {name!r} (réseaux disponibles : "
                            f"{', '.join(n['name'] for n in self.networks()) or 'aucun'})")

    # -- computing ------------------------------------------------------------------

    def compute(self, request: AccessRequest, replace: bool = False,
                progress: Callable[[str], None] | None = None,
                writing: Callable[[], AbstractContextManager[object]] = nullcontext
                ) -> dict[str, Any]:
        """Compute the measures of ``request`` and store them as one dataset.

        The computation reads (other readers go on); only the final write takes the
        file, inside ``writing()`` (the command line asks a running server to let go).

        Returns
        -------
        dict
            ``dataset_id``, ``measures`` (keys), ``observations`` written, ``notes``,
            ``already_computed`` (the same computation on the same inputs was stored
            before: nothing computed nor written).
        """
        from cohesion.access.compute import compute, request_checksum
        from cohesion.importers.base import write_batch

        reader = self.observatory.reader()
        lookups = self.observatory.settings.communes_qpv
        previous = reader.find_dataset("acces", request_checksum(reader, request, lookups))
        if previous is not None and not replace:
            return {"dataset_id": int(previous["dataset_id"]), "measures": [],
                    "observations": 0, "notes": [], "already_computed": True}
        computation = compute(reader, request, lookups=lookups, progress=progress)
        if progress:
            progress("enregistrement dans l'entrepôt")
        with writing(), self.observatory.shared.write() as writer:
            dataset_id, written = write_batch(writer, computation.batch, computation.info,
                                              replace=replace)
        return {"dataset_id": dataset_id, "measures": computation.measures,
                "observations": written, "notes": computation.batch.notes,
                "already_computed": False}

    def start(self, request: AccessRequest) -> Job:
        """Run :meth:`compute` in a background thread (one at a time); poll :meth:`job`."""
        from cohesion.access.compute import check_equipment
        from cohesion.errors import BusyError

        check_equipment(self.observatory.reader(), request.equipment)  # before the thread
        if not self._running.acquire(blocking=False):
            raise BusyError("un calcul d'accessibilité est déjà en cours : réessayez quand il "
                            "sera terminé")
        job = Job(uuid.uuid4().hex, request)
        self._jobs[job.id] = job
        for old in list(self._jobs)[:-KEPT_JOBS]:  # the oldest first: dicts keep order
            del self._jobs[old]

        def run() -> None:
            try:
                job.result = self.compute(request, progress=job.steps.append)
                job.state = "terminé"
            except CohesionError as error:
                job.error, job.state = str(error), "échec"
            except Exception:  # the page says it failed; the log says why
                import logging

                logging.getLogger("cohesion").exception("accessibility computation failed")
                job.error, job.state = "erreur interne", "échec"
            finally:
                self._running.release()

        threading.Thread(target=run, name=f"cohesion-access-{job.id[:8]}", daemon=True).start()
        return job

    def job(self, job_id: str) -> Job:
        """A background computation by id."""
        if job_id not in self._jobs:
            raise NotFoundError(f"calcul inconnu {job_id!r}")
        return self._jobs[job_id]

    # -- results --------------------------------------------------------------------

    def measures(self) -> list[dict[str, Any]]:
        """Every measure computed, newest computation first, with its parameters."""
        runs = self.observatory.reader().access_runs()
        found: dict[str, dict[str, Any]] = {}
        for row in runs.to_dict("records"):
            entry = found.setdefault(row["measure"], _run_document(row) | {"computations": []})
            entry["computations"].append({
                "dataset_id": int(row["dataset_id"]), "network": row["network"],
                "origins": int(row["origins"]), "computed_at": str(row["computed_at"])[:19]})
        return list(found.values())

    def measure(self, key: str) -> dict[str, Any]:
        """One measure (its latest computation) with the ids of its indicators."""
        for entry in self.measures():
            if entry["measure"] == key:
                base = f"acces_{key}"
                entry["indicators"] = {
                    "shares": {str(n): f"{base}_{n}min" for n in entry["thresholds"]},
                    "shares_qpv": {str(n): f"{base}_{n}min_qpv" for n in entry["thresholds"]},
                    "shares_outside_qpv": {str(n): f"{base}_{n}min_hors_qpv"
                                           for n in entry["thresholds"]},
                    "median": f"temps_{base}", "count": f"nb_{base}", "fca": f"fca_{base}"}
                return entry
        known = ", ".join(m["measure"] for m in self.measures()) or "aucune"
        raise UnknownMeasureError(f"mesure d'accessibilité inconnue {key!r} (mesures "
                                  f"calculées : {known} ; `cohesion access compute` en calcule)")

    def headline_indicators(self) -> list[str]:
        """The indicators of each measure a portrait shows.

        The share of residents within 15 minutes (or the measure's largest threshold
        under it), the same in QPV and outside, and the median time.
        """
        def compute() -> list[str]:
            found = []
            for entry in self.measures():
                thresholds = entry["thresholds"]
                chosen = max((n for n in thresholds if n <= HEADLINE_MINUTES),
                             default=min(thresholds))
                base = f"acces_{entry['measure']}"
                found += [f"{base}_{chosen}min", f"{base}_{chosen}min_qpv",
                          f"{base}_{chosen}min_hors_qpv", f"temps_{base}"]
            return found

        return self.observatory.cache.get(("access-headlines", self.observatory.version()),
                                          compute)

    def origins(self, key: str) -> pd.DataFrame:
        """The time from every origin of a measure, in minutes (NaN: beyond the limit)."""
        self.measure(key)
        found = self.observatory.reader().access_times(key)
        return found.assign(minutes=found["seconds"] / 60.0)

    def origins_geojson(self, key: str) -> bytes:
        """The origins of a measure as GeoJSON points (for the map), compact."""
        found = self.origins(key)
        features = [
            {"type": "Feature", "geometry": {"type": "Point",
                                             "coordinates": [round(lon, 5), round(lat, 5)]},
             "properties": {"minutes": None if np.isnan(minutes) else round(minutes, 1),
                            "population": round(population, 1), "zone": zone or NOT_COVERED,
                            "commune": commune}}
            for lon, lat, minutes, population, zone, commune in zip(
                found["longitude"], found["latitude"], found["minutes"], found["population"],
                found["zone"], found["code_commune"], strict=True)]
        return json.dumps({"type": "FeatureCollection", "features": features},
                          separators=(",", ":")).encode()

    def zones(self, key: str, threshold: int) -> list[dict[str, Any]]:
        """Residents within ``threshold`` minutes: in QPV, outside in their communes, elsewhere.

        Sums over every origin of the measure (ratio of sums); the median is weighted
        by population.
        """
        entry = self.measure(key)
        if threshold not in entry["thresholds"]:
            raise CohesionError(f"seuil {threshold} min non calculé pour {key} (seuils : "
                                f"{', '.join(map(str, entry['thresholds']))})")
        found = self.origins(key)
        zone = found["zone"].fillna(NOT_COVERED)
        rows = []
        for name in (*ZONES, NOT_COVERED, "ensemble"):
            chosen = found[zone == name] if name != "ensemble" else found
            if chosen.empty:
                continue
            population = float(chosen["population"].sum())
            minutes = chosen["minutes"].fillna(np.inf).to_numpy()
            within = float(chosen.loc[minutes <= threshold, "population"].sum())
            median = weighted_median(minutes, chosen["population"].to_numpy())
            rows.append({"zone": name, "label": ZONE_LABELS.get(name, {
                NOT_COVERED: "QPV non chargés (non couvert)", "ensemble": "ensemble"}[name]
                if name in (NOT_COVERED, "ensemble") else name),
                "population": round(population, 1), "within": round(within, 1),
                "share": round(100 * within / population, 2) if population else None,
                "median_minutes": round(median, 1) if np.isfinite(median) else None})
        return rows

    def table(self, key: str, level: str, threshold: int) -> pd.DataFrame:
        """The measure by territory of ``level``: shares (all, QPV, outside) and median.

        Columns ``code, nom, population_mesuree, part_{n}min, part_{n}min_qpv,
        part_{n}min_hors_qpv, temps_median``; only territories with measured residents.
        """
        entry = self.measure(key)
        if level not in TABLE_LEVELS:
            raise CohesionError(f"échelon {level!r} non proposé (attendu "
                                f"{', '.join(TABLE_LEVELS)})")
        if threshold not in entry["thresholds"]:
            raise CohesionError(f"seuil {threshold} min non calculé pour {key}")
        vintage = entry["generation"] if level == "QPV" else entry["vintage"]
        if vintage is None:
            raise CohesionError("aucun contour de QPV n'était chargé lors du calcul")
        ids = entry["indicators"]
        columns = {"part": ids["shares"][str(threshold)],
                   "part_qpv": ids["shares_qpv"][str(threshold)],
                   "part_hors_qpv": ids["shares_outside_qpv"][str(threshold)],
                   "temps_median": ids["median"]}
        if level == "QPV":
            columns = {k: v for k, v in columns.items() if k in ("part", "temps_median")}
        period = entry["period"]
        share = self.observatory.values(columns["part"], level, vintage, period).frame
        measured = share[share[f"pop_acces_{key}@{period}"] > 0] \
            if f"pop_acces_{key}@{period}" in share else share.dropna(subset=["value"])
        table = pd.DataFrame({"code": measured["code"], "nom": measured["name"],
                              "population_mesuree": measured.get(f"pop_acces_{key}@{period}")})
        for name, indicator in columns.items():
            values = self.observatory.values(indicator, level, vintage, period).frame
            table[f"{name}_{threshold}min" if name.startswith("part") else name] = \
                values["value"].reindex(table["code"]).round(2).to_numpy()
        return table.reset_index(drop=True)

    def equipment_bands(self, equipment: str, generation: int | None = None
                        ) -> dict[str, Any]:
        """Where the équipements of a type lie with respect to the QPV (the locating core).

        The bands are the QPV page's: in a QPV, < 300 m (the collèges « relevant de la
        politique de la ville »), < 500 m, < 1 km, in a commune with a QPV, elsewhere;
        « non couvert » where the QPV contours of the département are not loaded.
        """
        from cohesion.access.compute import check_equipment
        from cohesion.geo.locate import BANDS
        from cohesion.geo.locate import NOT_COVERED as UNCOVERED_BAND

        points = check_equipment(self.observatory.reader(), [equipment])[equipment]
        index = self.observatory.qpv.index()
        chosen = generation or index.generations[-1]
        if chosen not in index.generations:
            raise NotFoundError(f"pas de contours de QPV {chosen} dans l'entrepôt")
        found = index.locate(points["longitude"].to_numpy(), points["latitude"].to_numpy())
        result = found.generations[chosen]
        band = pd.Series(result.band, dtype=object).fillna(UNCOVERED_BAND)
        counts = band.value_counts()
        return {"equipment": equipment, "generation": chosen, "count": len(points),
                "bands": [{"band": name, "count": int(counts.get(name, 0))}
                          for name in (*BANDS, UNCOVERED_BAND)],
                "points": pd.DataFrame({
                    "longitude": points["longitude"], "latitude": points["latitude"],
                    "nom": points["label"], "code_commune": found.commune,
                    f"qpv_{chosen}": result.code, f"qpv_proche_{chosen}": result.nearest,
                    f"distance_qpv_{chosen}_m": np.round(result.distance, 1),
                    f"bande_{chosen}": band.to_numpy()})}


def _run_document(row: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, float) and np.isnan(value):
            return None
        if isinstance(value, np.generic):
            return value.item()
        return value

    keys = ("measure", "equipment", "equipment_label", "equipment_count", "profile",
            "speed_kmh", "method", "detour", "network", "network_date", "population",
            "vintage", "period", "generation", "origins", "population_total", "notes")
    document = {k: plain(row[k]) for k in keys}
    document["thresholds"] = [int(n) for n in row["thresholds"]]
    document["generation"] = None if document["generation"] is None or pd.isna(
        document["generation"]) else int(document["generation"])
    document["missing_label"] = REASON_LABELS["beyond_limit"]
    return document
