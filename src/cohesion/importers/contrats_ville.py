"""Importer of the contrats de ville 2015 (``CV…``), resolved in today's communes.

The contrats de ville of 2015 (2015-2023) were signed by the EPCI of 2015, which the
référentiel (COG 2021 to 2026) no longer has: many merged in 2017. ANCT's list of them
(``geom_cv_ctr_2015.json``: ``code_cv``, ``lib_cv``, ``codgeo`` the carrier, an EPCI's
SIREN of 2015 or a commune's code, ``insee_dep``) gives no member communes. Their
perimeters do: the CGET's zonings of 2019 (``cv.topojson``, option ``perimetres``) draw
each contrat's territory, with its number of communes (``nbcom``).

:class:`ContratsVille2015` makes them the level ``CV2015`` (a level of its own, not the
``CV`` of the 2024 contrats: both generations cover the same communes, and one level
holding both would count a commune twice in its sums), in the COG vintage of the
contrats de ville 2024 when they are loaded (so the two generations share their
communes), else the latest. The communes of a contrat are found, in this order:

1. its carrier is a commune (5 characters): that commune (a commune merged since is
   mapped to the commune that absorbed it, noted);
2. its carrier is an EPCI of 2015 and its perimeter is given and lies in France (the
   2019 map draws the overseas départements as insets off the Atlantic coast: such a
   perimeter, more than half out of France's contour, is not used): every commune of the
   vintage whose area lies for more than half in the perimeter (:data:`MAJORITY`); the
   count is compared with ``nbcom`` (fewer communes where communes merged after 2015),
   and the differences are noted;
3. otherwise it is not resolved: it is listed in the notes and left out, never guessed.

``territories`` keep both codes: ``code`` is the ``CV…`` code, ``siren`` the EPCI of 2015
that signed it. The passage to the contrats de ville 2024 (``CN…``) is derived from the
shared communes (:func:`cohesion.policies.contrats.contrat_passage`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from cohesion.importers.base import ImportBatch, Importer, ImportOptions, check_options
from cohesion.importers.qpv import VectorTable, read_vector, text_column
from cohesion.importers.zonings import Links, ZoningImporter, resolve_members
from cohesion.store.warehouse import Warehouse
from cohesion.territory.names import search_key

#: The level of the contrats de ville 2015 and that of the contrats 2024.
LEVEL = "CV2015"
LEVEL_2024 = "CV"
LABEL = "Contrats de ville 2015"
DESCRIPTION = ("Contrats de ville 2015-2023 (codes CV…), signés par les EPCI de 2015 ou des "
               "communes, rapportés aux communes du COG")
CODE_PATTERN = re.compile(r"CV\d{3}")
#: A commune belongs to a perimeter holding more than this share of its area (the 2019
#: perimeters are simplified: a commune at the edge overlaps its neighbour a little).
MAJORITY = 0.5
OPTION_KEYS = {"perimetres", "vintage"}
#: How many contrats a note names before « … ».
_LISTED = 10


def _listed(codes: list[str]) -> str:
    return ", ".join(codes[:_LISTED]) + (", …" if len(codes) > _LISTED else "")


def majority_members(perimeters: np.ndarray, communes: np.ndarray,
                     threshold: float = MAJORITY) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (perimeter, commune) where more than ``threshold`` of the commune's area lies.

    Areas are compared in longitude/latitude degrees: both areas of a ratio are measured
    at the same place, so the ratio is that of the true areas to well under 1 %.

    Examples
    --------
    >>> square = shapely.box(0, 0, 2, 2)
    >>> majority_members(np.array([square]),
    ...                  np.array([shapely.box(1, 1, 2, 2), shapely.box(1.5, 0, 3, 1)]))
    (array([0]), array([0]))
    """
    tree = shapely.STRtree(communes)
    perimeter, commune = tree.query(perimeters, predicate="intersects")
    shared = shapely.area(shapely.intersection(perimeters[perimeter], communes[commune]))
    own = shapely.area(communes[commune])
    keep = shared > threshold * own
    return perimeter[keep], commune[keep]


class ContratsVille2015(Importer):
    """ANCT's list of the contrats de ville 2015, with the 2019 perimeters.

    Options (``options.extra``)
    ---------------------------
    perimetres : str
        The CGET's perimeters of the contrats (``cv.topojson``: ``id``, ``nbcom``,
        ``info2``); a relative path not found from the working folder is read from the
        list's folder. Without it only the contrats carried by a commune are resolved.
    vintage : int
        COG vintage of the communes (default: that of the level ``CV`` when loaded,
        else the latest built).
    """

    name = "contrats-ville-2015"
    title = "Contrats de ville 2015 (EPCI de 2015 rapportés aux communes)"
    producer = "ANCT, CGET (périmètres 2019)"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        extra = dict(options.extra)
        check_options(path, options, OPTION_KEYS, "des contrats de ville 2015")
        source = read_vector(path, read_geometry=False)
        contrats = self._contrats(source)
        vintage = self._vintage(warehouse, extra.get("vintage", options.vintage), source)
        notes: list[str] = []
        carrier = contrats["codgeo"]
        by_commune = carrier.str.fullmatch(r"\d[\dAB]\d{3}").to_numpy()
        by_epci = carrier.str.fullmatch(r"\d{9}").to_numpy()

        members = [self._commune_carriers(source, contrats, by_commune, warehouse, vintage,
                                          notes)]
        given = extra.get("perimetres")
        if given is not None and not Path(str(given)).exists():
            given = path.parent / str(given)  # relative to the list's folder
        perimeter_members, perimeter_notes = self._perimeter_members(
            given, contrats, by_epci, warehouse, vintage)
        members.append(perimeter_members)
        notes.extend(perimeter_notes)
        resolved = pd.concat(members, ignore_index=True).drop_duplicates(["zone", "commune"])

        unresolved = sorted(set(contrats["code"]) - set(resolved["zone"]))
        if len(resolved) == 0:
            raise source.error("aucun contrat de ville n'a pu être rapporté à des communes",
                               expected="des contrats portés par une commune, ou le fichier "
                               "des périmètres (--option perimetres=cv.topojson)",
                               found=f"{len(contrats)} contrats, aucun résolu")
        kept = contrats[contrats["code"].isin(set(resolved["zone"]))]
        population = warehouse.legal_populations("COM", vintage)
        totals = resolved.assign(population=resolved["commune"].map(population)).groupby(
            "zone")["population"].sum(min_count=1)
        territories = pd.DataFrame({
            "level": LEVEL, "code": kept["code"].to_numpy(object), "vintage": vintage,
            "name": kept["name"].to_numpy(object),
            "search_name": [search_key(n) for n in kept["name"]],
            "population": pd.array(kept["code"].map(totals).round().to_numpy(), dtype="Int64"),
            "siren": kept["codgeo"].where(kept["codgeo"].str.fullmatch(r"\d{9}"), None)
            .to_numpy(object),
            "kind": None, "zone": None})
        ZoningImporter._check_not_there(path, warehouse, LEVEL, vintage,
                                        territories["code"].to_numpy())
        memberships = pd.DataFrame({
            "vintage": vintage, "level": "COM", "code": resolved["commune"].to_numpy(object),
            "parent_level": LEVEL, "parent_code": resolved["zone"].to_numpy(object)})
        tables = {"territories": territories, "memberships": memberships}
        if warehouse.query("SELECT 1 FROM levels WHERE level = ?", [LEVEL]).empty:
            tables["levels"] = pd.DataFrame({"level": [LEVEL], "label": [LABEL],
                                             "kind": ["zoning"], "description": [DESCRIPTION]})
        counts = (f"{LEVEL} : {len(kept)} contrats de ville sur {len(contrats)}, "
                  f"{resolved['commune'].nunique()} communes du COG {vintage} "
                  f"({int(by_commune.sum())} portés par une commune, "
                  f"{resolved.loc[resolved['how'] == 'perimetre', 'zone'].nunique()} "
                  "par leur périmètre)")
        notes.insert(0, counts)
        if unresolved:
            notes.append(f"{len(unresolved)} contrat(s) de ville non rapporté(s) à des communes "
                         f"(ni commune porteuse connue du COG {vintage}, ni périmètre "
                         f"utilisable), écarté(s) : {_listed(unresolved)}")
        return ImportBatch(tables=tables, vintage=vintage, rows=len(source.frame), notes=notes)

    @staticmethod
    def _contrats(source: VectorTable) -> pd.DataFrame:
        """``code, name, codgeo, departement`` of each contrat, codes checked."""
        frame = source.frame
        lowered = {c.lower(): c for c in frame.columns}
        for column in ("code_cv", "lib_cv", "codgeo", "insee_dep"):
            if column not in lowered:
                raise source.error(f"colonne {column} absente", row=-1, column=column,
                                   expected="code_cv, lib_cv, codgeo, insee_dep",
                                   found=", ".join(map(str, frame.columns)))
        contrats = pd.DataFrame({
            "code": text_column(frame[lowered["code_cv"]]),
            "name": text_column(frame[lowered["lib_cv"]]),
            "codgeo": text_column(frame[lowered["codgeo"]]),
            "departement": text_column(frame[lowered["insee_dep"]])})
        bad = (~contrats["code"].str.fullmatch(CODE_PATTERN.pattern)).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise source.error("code de contrat de ville 2015 non valide", row=row,
                               column=lowered["code_cv"], expected="CV suivi de trois chiffres "
                               "(CV001) ; les contrats 2024 (CN…) s'importent avec l'importeur "
                               "zonage", found=contrats["code"].iloc[row])
        # a contrat over two départements has a row in each (CV043, Pays d'Aix: 13 and 84)
        carriers = contrats.groupby("code")["codgeo"].transform("nunique").to_numpy()
        if (carriers > 1).any():
            row = int(np.argmax(carriers > 1))
            raise source.error("un même contrat de ville a plusieurs porteurs", row=row,
                               column=lowered["codgeo"], expected="un porteur par contrat",
                               found=contrats["codgeo"].iloc[row])
        contrats["name"] = contrats["name"].where(contrats["name"] != "", contrats["code"])
        return contrats.drop_duplicates("code").reset_index(drop=True)

    @staticmethod
    def _vintage(warehouse: Warehouse, given: object, source: VectorTable) -> int:
        built = warehouse.vintages()
        if not built:
            raise source.error("le référentiel est vide : lancez `cohesion build` avant "
                               "d'importer")
        if given is not None:
            return warehouse.require_vintage(int(given))
        with_2024 = warehouse.query("SELECT max(vintage) AS v FROM territories WHERE level = ?",
                                    [LEVEL_2024])["v"]
        return int(with_2024.iloc[0]) if with_2024.notna().iloc[0] else built[-1]

    @staticmethod
    def _commune_carriers(source: VectorTable, contrats: pd.DataFrame, by_commune: np.ndarray,
                          warehouse: Warehouse, vintage: int, notes: list[str]
                          ) -> pd.DataFrame:
        """The commune of each contrat carried by a commune.

        A commune merged since is mapped to the commune that absorbed it (noted); an
        unknown code leaves its contrat unresolved (listed by the caller).
        """
        rows = np.flatnonzero(by_commune)
        links = Links(rows.astype(np.int64), contrats["code"].to_numpy(object)[rows],
                      contrats["name"].to_numpy(object)[rows],
                      contrats["codgeo"].to_numpy(object)[rows],
                      contrats["codgeo"].to_numpy(object)[rows], "codgeo")
        found: list[str] = []
        _, resolved = resolve_members(source, links, warehouse, vintage, "drop", found)
        notes.extend(note for note in found if "anciens codes de commune" in note)
        communes = resolved[resolved["level"] == "COM"]
        return pd.DataFrame({"zone": communes["zone"].to_numpy(object),
                             "commune": communes["commune"].to_numpy(object),
                             "how": "commune"})

    def _perimeter_members(self, given: object, contrats: pd.DataFrame, by_epci: np.ndarray,
                           warehouse: Warehouse, vintage: int
                           ) -> tuple[pd.DataFrame, list[str]]:
        """The communes lying in the perimeter of each contrat carried by an EPCI of 2015."""
        empty = pd.DataFrame(columns=["zone", "commune", "how"])
        if given is None:
            return empty, [f"{int(by_epci.sum())} contrats portés par un EPCI de 2015 sans "
                           "périmètre (--option perimetres=cv.topojson) : non résolus"]
        perimeters = read_vector(Path(str(given)))
        frame = perimeters.frame
        for column in ("id", "nbcom"):
            if column not in frame.columns:
                raise perimeters.error(f"colonne {column} absente du fichier des périmètres",
                                       row=-1, column=column, expected="id, nbcom, info2",
                                       found=", ".join(map(str, frame.columns)))
        ids = text_column(frame["id"])
        twice = ids.duplicated().to_numpy()
        if twice.any():
            row = int(np.argmax(twice))
            raise perimeters.error("deux périmètres pour un même contrat de ville", row=row,
                                   column="id", expected="un périmètre par contrat",
                                   found=ids.iloc[row])
        notes = []
        unknown = sorted(set(ids) - set(contrats["code"]))
        if unknown:
            notes.append(f"{len(unknown)} périmètre(s) de contrats absents de la liste, "
                         f"ignorés : {_listed(unknown)}")
        use = ids.isin(set(contrats.loc[by_epci, "code"])).to_numpy()
        shapes = np.asarray(perimeters.geometries)
        france = warehouse.geometries("FRA", vintage)["geometry"]
        placed = np.zeros(len(ids), dtype=bool)
        if len(france):
            placed[use] = shapely.area(shapely.intersection(shapes[use], france.iloc[0])) > \
                MAJORITY * shapely.area(shapes[use])
        displaced = ids[use & ~placed].tolist()
        if displaced:
            notes.append(f"{len(displaced)} périmètre(s) hors du territoire français (les "
                         "départements d'outre-mer sont dessinés en encart au large de la côte "
                         f"atlantique sur la carte de 2019) : non utilisés ({_listed(displaced)})")
        communes = warehouse.geometries("COM", vintage)
        rows = np.flatnonzero(use & placed)
        which, commune = majority_members(shapes[rows], communes["geometry"].to_numpy())
        members = pd.DataFrame({"zone": ids.to_numpy(object)[rows][which],
                                "commune": communes["code"].to_numpy(object)[commune],
                                "how": "perimetre"})
        found = members.groupby("zone")["commune"].nunique()
        declared = pd.Series(pd.to_numeric(frame["nbcom"]).to_numpy(),
                             index=ids.to_numpy(object))[found.index]
        fewer = found[found < declared].index.tolist()
        more = found[found > declared].index.tolist()
        if fewer:
            notes.append(f"{len(fewer)} contrat(s) ont moins de communes dans le COG {vintage} "
                         "que nbcom (communes fusionnées depuis 2015 ; par exemple "
                         f"{fewer[0]} : {found[fewer[0]]} communes, nbcom "
                         f"{int(declared[fewer[0]])})")
        if more:
            notes.append(f"{len(more)} contrat(s) ont plus de communes dans le COG {vintage} "
                         f"que nbcom (périmètre simplifié ou contours communaux changés depuis, "
                         f"à vérifier ; par exemple {more[0]} : {found[more[0]]} communes, nbcom "
                         f"{int(declared[more[0]])})")
        missing = sorted(set(ids[use & placed]) - set(found.index))
        if missing:
            notes.append(f"{len(missing)} périmètre(s) sans commune du COG {vintage} à plus "
                         f"de moitié : {_listed(missing)}")
        return members, notes
