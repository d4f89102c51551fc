"""Read one COG vintage from ``@etalab/decoupage-administratif`` into flat tables.

The package ships JSON lists (communes, EPCI, EPT, arrondissements, départements,
régions). :func:`read_vintage` turns one version of it into three tables that the
warehouse stores as they are: territories, memberships (child → parent) and postcodes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cohesion.territory.levels import FRANCE_CODE
from cohesion.territory.names import search_key
from cohesion.territory.vintages import package_dir

#: ``type`` of a commune entry in the package → Cohésion level.
COMMUNE_TYPES = {
    "commune-actuelle": "COM",
    "arrondissement-municipal": "ARM",
    "commune-deleguee": "COMD",
    "commune-associee": "COMA",
}

TERRITORY_COLUMNS = ["level", "code", "vintage", "name", "search_name", "population", "siren",
                     "kind", "zone"]


@dataclass(frozen=True)
class VintageTables:
    """The référentiel of one vintage, as tables ready for the warehouse."""

    vintage: int
    territories: pd.DataFrame
    memberships: pd.DataFrame
    postcodes: pd.DataFrame
    former_codes: pd.DataFrame


def zone_of_departement(code: str) -> str:
    """Return ``metro``, ``drom`` or ``com`` (collectivité d'outre-mer) for a département.

    Examples
    --------
    >>> zone_of_departement("2A"), zone_of_departement("974"), zone_of_departement("987")
    ('metro', 'drom', 'com')
    """
    if len(code) == 2:
        return "metro"
    return "drom" if code in {"971", "972", "973", "974", "976"} else "com"


def _load(folder: Path, name: str) -> list[dict]:
    path = folder / f"{name}.json"
    if not path.exists():  # EPT are published from 2023 on
        return []
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def read_vintage(node_modules: Path, vintage: int) -> VintageTables:
    """Read the référentiel of ``vintage`` from its ``cog-YYYY`` npm package.

    Parameters
    ----------
    node_modules : Path
        Folder holding the ``cog-YYYY`` packages.
    vintage : int
        COG vintage, 2021 to 2026.

    Returns
    -------
    VintageTables
        Territories of every level (communes, arrondissements municipaux, communes
        déléguées and associées, EPCI, EPT, arrondissements, départements, régions and
        France), the membership of each commune in every supra-communal level, and the
        postcodes of communes.
    """
    folder = package_dir(node_modules, vintage)
    communes = _load(folder, "communes")
    rows: list[tuple] = []
    links: list[tuple] = []
    postcodes: list[tuple] = []
    former: list[tuple] = []
    regions_of_dep: dict[str, str] = {}

    for entry in communes:
        level = COMMUNE_TYPES[entry["type"]]
        code = entry["code"]
        dep = entry.get("departement")
        zone = entry.get("zone") or (zone_of_departement(dep) if dep else None)
        rows.append((level, code, entry["nom"], entry.get("population"), entry.get("siren"),
                     None, zone))
        postcodes.extend((level, code, cp) for cp in entry.get("codesPostaux", ()))
        former.extend((level, code, old) for old in entry.get("anciensCodes", ()))
        if level == "COM":
            for parent_level, key in (("ARR", "arrondissement"), ("DEP", "departement"),
                                      ("REG", "region")):
                if entry.get(key):
                    links.append((level, code, parent_level, entry[key]))
            if zone in {"metro", "drom"}:
                links.append((level, code, "FRA", FRANCE_CODE))
            if dep and entry.get("region"):
                regions_of_dep[dep] = entry["region"]
        elif level == "ARM":
            links.append((level, code, "COM", entry["commune"]))
        else:
            links.append((level, code, "COM", entry["chefLieu"]))

    for level, name in (("EPCI", "epci"), ("EPT", "ept")):
        for group in _load(folder, name):
            rows.append((level, group["code"], group["nom"], group.get("populationMunicipale"),
                         group["code"], group.get("type"), None))
            links.extend(("COM", member["code"], level, group["code"])
                         for member in group["membres"])

    for entry in _load(folder, "arrondissements"):
        rows.append(("ARR", entry["code"], entry["nom"], None, None, None,
                     zone_of_departement(entry["departement"])))
    for entry in _load(folder, "departements"):
        zone = entry.get("zone") or zone_of_departement(entry["code"])
        rows.append(("DEP", entry["code"], entry["nom"], None, None, None, zone))
        region = entry.get("region") or regions_of_dep.get(entry["code"])
        if region:
            links.append(("DEP", entry["code"], "REG", region))
    for entry in _load(folder, "regions"):
        zone = entry.get("zone") or ("metro" if int(entry["code"]) > 10 else "drom")
        if len(entry["code"]) > 2:  # collectivités d'outre-mer are listed as regions too
            zone = "com"
        rows.append(("REG", entry["code"], entry["nom"], None, None, None, zone))
    rows.append(("FRA", FRANCE_CODE, "France", None, None, None, None))

    memberships = pd.DataFrame(links, columns=["level", "code", "parent_level", "parent_code"])
    territories = pd.DataFrame(rows, columns=["level", "code", "name", "population", "siren",
                                              "kind", "zone"])
    territories = territories.drop_duplicates(["level", "code"], keep="first")
    territories = _fill_group_populations(territories, memberships)
    territories.insert(2, "vintage", vintage)
    territories.insert(4, "search_name", territories["name"].map(search_key))
    memberships = memberships.drop_duplicates().reset_index(drop=True)
    memberships.insert(0, "vintage", vintage)
    postcode_table = pd.DataFrame(postcodes, columns=["level", "code", "postcode"])
    postcode_table = postcode_table.drop_duplicates().reset_index(drop=True)
    postcode_table.insert(0, "vintage", vintage)
    former_codes = pd.DataFrame(former, columns=["level", "code", "former_code"])
    former_codes.insert(0, "vintage", vintage)
    return VintageTables(vintage, territories[TERRITORY_COLUMNS].reset_index(drop=True),
                         memberships, postcode_table, former_codes)


def _fill_group_populations(territories: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Set the population of supra-communal levels to the sum of their communes'.

    ``links`` are the membership rows as read (a commune listed twice in a group counts
    twice, as the package lists it).
    """
    commune_pop = territories.loc[territories["level"] == "COM"].set_index("code")["population"]
    members = links[links["level"] == "COM"]
    sums = (members["code"].map(commune_pop)
            .groupby([members["parent_level"], members["parent_code"]]).sum(min_count=1))
    is_group = territories["level"].isin(["EPCI", "EPT", "ARR", "DEP", "REG", "FRA"])
    groups = territories[is_group]
    territories = territories.copy()
    territories.loc[is_group, "population"] = sums.reindex(
        pd.MultiIndex.from_arrays([groups["level"], groups["code"]])).to_numpy()
    territories["population"] = territories["population"].astype("Int64")
    return territories
