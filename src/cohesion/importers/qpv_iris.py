"""Importer of QPV statistics published one row per IRIS of a QPV, summed to the QPV.

Some QPV tables give, for each QPV, one row per IRIS it is made of (the Strasbourg
tables: ``ID_IRIS``, ``ID_QPV``, ``ID_COM`` and counts). :class:`QpvIrisTable` reads them
with a declared mapping (the keys of the ``table`` importer's mapping, see
``docs/import-your-own-data.md``, plus those below) and **sums the counts of the IRIS
of each QPV**: the declared aggregation is a sum, so only variables declared
``additive: true`` (counts) are accepted; a rate is never averaged, it is declared as a
ratio of two counts (``ratios``), which the indicator engine computes as a ratio of
sums at the QPV and at every level above.

Keys of the mapping besides the ``table`` keys (``code_column`` is the QPV column,
``name_column`` the QPV's name, ``vintage`` the QPV generation, 2015 or 2024):

- ``iris_column``: the IRIS code column (each IRIS in one QPV, once);
- ``commune_column``: the commune of each IRIS (a QPV lies on the communes of its IRIS);
- ``total_rows``: a regular expression matching the first cell of rows that are the
  file's own totals (« Total QPV de Strasbourg »): left out and counted, their code
  cells may be empty or ``NA``; any other row without codes is an error;
- ``ratios``: indicators declared as ratios of two of the variables
  (``id, label, unit, numerator, denominator, scale, direction``);
- ``lookup``, ``lookup_name_column``, ``iris_name_column``: an IRIS → QPV table (a
  relative path is read from the data file's folder) with the same IRIS, QPV and
  commune columns, for rows that lost their codes: such a row gets those of the
  lookup's IRIS of the same name (compared without accents, case or apostrophe style:
  the Strasbourg table lost « Pont de l'Europe » to a join on « Pont de l’Europe »),
  noted; a row whose codes differ from the lookup's is an error.

A QPV the warehouse does not hold (its contours not imported) is added as a territory
without contour, attached to the communes of its IRIS; its contour, imported later by
the ``qpv`` importer, is added to it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportBatch, Importer, ImportOptions, check_options
from cohesion.importers.qpv import GENERATION_PATTERNS
from cohesion.importers.reading import Table
from cohesion.importers.table import wide_observations
from cohesion.importers.table_mapping import TableMapping, load_mapping_file, parse_mapping
from cohesion.importers.table_reading import find_column, read_data_table
from cohesion.indicators.api import Direction
from cohesion.store.schema import MISSING_REASONS
from cohesion.store.warehouse import Warehouse
from cohesion.territory.names import search_key

IRIS_PATTERN = r"\d[\dAB]\d{7}"
OWN_KEYS = {"iris_column", "commune_column", "total_rows", "ratios", "lookup",
            "lookup_name_column", "iris_name_column"}
RATIO_KEYS = {"id", "label", "unit", "numerator", "denominator", "scale", "direction"}
_EMPTY = {"", "na", "nan", "none"}


def sum_by_qpv(observations: pd.DataFrame, qpv_of_row: np.ndarray) -> pd.DataFrame:
    """Sum the IRIS values of each (variable, QPV, period); a missing part misses the sum.

    A sum over a QPV is only true when every IRIS of the QPV has its value: where one
    lacks, the QPV value is missing with that IRIS's reason, never a partial sum.

    Examples
    --------
    >>> obs = pd.DataFrame({"row": [0, 1, 2], "variable": "n", "period": "2019",
    ...                     "value": [1.5, 2.0, np.nan], "missing": [None, None, "secret"]})
    >>> sum_by_qpv(obs, np.array(["QP1", "QP1", "QP2"]))
      variable code period  value missing
    0        n  QP1   2019    3.5    None
    1        n  QP2   2019    NaN  secret
    """
    frame = observations.assign(code=qpv_of_row[observations["row"].to_numpy()])
    keys = ["variable", "code", "period"]
    grouped = frame.groupby(keys, sort=True)
    sums = grouped["value"].sum(min_count=1)
    reason = grouped["missing"].first()
    lacking = reason.notna()
    return pd.DataFrame({"value": sums.where(~lacking).astype("float64"),
                         "missing": reason.where(lacking, None).astype(object)}
                        ).reset_index()


class QpvIrisTable(Importer):
    """QPV statistics given one row per IRIS of a QPV.

    Options (``options.extra``): ``mapping`` (the YAML file) and any of the keys of this
    importer (``lookup``, ``total_rows``…), which then override the file's.
    """

    name = "qpv-iris"
    title = "Statistiques des QPV publiées par IRIS, sommées par QPV"
    producer = "INSEE"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        given = options.extra.get("mapping")
        if given is None:
            raise InputFileError(path, "l'importeur qpv-iris a besoin d'une description",
                                 column="mapping", expected="--option mapping=fichier.yaml")
        # the keys of the table mapping go in the description, not in the options
        check_options(path, options, {"mapping"} | OWN_KEYS, self.name)
        data, source = load_mapping_file(Path(str(given)))
        own = {key: data.pop(key) for key in OWN_KEYS if key in data}
        own.update({key: value for key, value in options.extra.items() if key in OWN_KEYS})
        mapping = parse_mapping(data, source)
        for key in ("iris_column", "commune_column"):
            if not isinstance(own.get(key), str):
                raise source.error((key,), f"{key} est requis", expected="un nom de colonne",
                                   found=own.get(key))
        if mapping.code_column is None or mapping.vintage not in GENERATION_PATTERNS:
            raise source.error(("vintage",), "code_column (la colonne des QPV) et vintage (la "
                               "génération des QPV) sont requis",
                               expected="vintage: 2015 ou 2024", found=mapping.vintage)
        generation = int(mapping.vintage)
        for position, spec in enumerate(mapping.variables):
            if spec.additive is not True:
                raise source.error(("variables", position), f"{spec.column} n'est pas déclarée "
                                   "additive : les IRIS d'un QPV se somment, un taux ne se somme "
                                   "pas (déclarez son numérateur et son dénominateur, et le taux "
                                   "dans ratios)", expected="additive: true", found=spec.additive)
        table = read_data_table(path, mapping)
        frame = table.frame
        notes: list[str] = []
        iris_column = find_column(table, own["iris_column"], (), "le code IRIS", True,
                                  "iris_column")
        qpv_column = find_column(table, mapping.code_column, (), "le code QPV", True,
                                 "code_column")
        commune_column = find_column(table, own["commune_column"], (), "la commune", True,
                                     "commune_column")
        assert iris_column and qpv_column and commune_column
        iris = frame[iris_column].astype(str).str.strip()
        qpv = frame[qpv_column].astype(str).str.strip()
        commune = frame[commune_column].astype(str).str.strip()
        totals = self._total_rows(source, own.get("total_rows"), frame, iris, qpv, notes)
        kept = ~totals
        if "lookup" in own:
            iris, qpv, commune = self._from_lookup(
                source, own, table, path, kept, iris, qpv, commune,
                (iris_column, qpv_column, commune_column), notes)
        self._check_codes(table, iris, iris_column, IRIS_PATTERN, kept, "un code IRIS à 9 "
                          "caractères (674822201)")
        self._check_codes(table, qpv, qpv_column, GENERATION_PATTERNS[generation], kept,
                          f"un code de QPV de la génération {generation}")
        twice = (iris.duplicated() & kept).to_numpy()
        if twice.any():
            row = int(np.argmax(twice))
            raise table.error("IRIS donné deux fois : ses valeurs compteraient deux fois dans "
                              "son QPV", row=row, column=iris_column,
                              expected="une ligne par IRIS", found=iris.iloc[row])

        markers = {**MISSING_REASONS, **{k.strip().lower(): v for k, v in
                                        mapping.missing.items()}}
        observations, variables = wide_observations(table, mapping, mapping.variables,
                                                     markers, "valeur")
        observations = observations[kept.to_numpy()[observations["row"].to_numpy()]]
        sums = sum_by_qpv(observations, qpv.to_numpy(object))
        sums = sums.assign(level="QPV", vintage=generation)
        tables = self._new_qpv(table, warehouse, generation, qpv, commune, kept,
                               frame[mapping.name_column].astype(str).str.strip()
                               if mapping.name_column else qpv, commune_column, notes)
        if "ratios" in own:
            tables["indicator_definitions"] = self._ratios(
                source, own["ratios"], set(variables["variable"]))
        count = int(kept.sum())
        notes.insert(0, f"{count} IRIS de {qpv[kept].nunique()} QPV de {generation} : "
                        f"{len(sums)} valeurs par QPV, sommes des IRIS de chaque QPV")
        return ImportBatch(
            observations=sums[["variable", "level", "code", "vintage", "period", "value",
                               "missing"]],
            variables=variables, tables=tables, vintage=generation,
            periods=sorted(set(sums["period"].astype(str))), rows=len(frame), notes=notes,
            provenance=mapping.provenance())

    @staticmethod
    def _total_rows(source: Any, pattern: object, frame: pd.DataFrame, iris: pd.Series,
                    qpv: pd.Series, notes: list[str]) -> pd.Series:
        """Rows that are the file's own totals (matching ``total_rows``), left out."""
        if pattern is None:
            return pd.Series(False, index=frame.index)
        if not isinstance(pattern, str):
            raise source.error(("total_rows",), "total_rows est une expression régulière",
                               expected="par exemple '^Total'", found=pattern)
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise source.error(("total_rows",), f"expression régulière non valide ({error})",
                               expected="par exemple '^Total'", found=pattern) from None
        first = frame.iloc[:, 0].astype(str).str.strip()
        totals = first.map(lambda text: bool(compiled.search(text)))
        if totals.any():
            notes.append(f"{int(totals.sum())} ligne(s) de total du fichier écartée(s) "
                         f"({first[totals].iloc[0]!r}) : les QPV sont les sommes de leurs IRIS")
        return totals.astype(bool)

    @staticmethod
    def _from_lookup(source: Any, own: dict[str, Any], table: Table, path: Path,
                     kept: pd.Series, iris: pd.Series, qpv: pd.Series, commune: pd.Series,
                     columns: tuple[str, str, str], notes: list[str]
                     ) -> tuple[pd.Series, pd.Series, pd.Series]:
        """Codes of the rows that lost them, from the lookup's IRIS of the same name."""
        for key in ("lookup_name_column", "iris_name_column"):
            if not isinstance(own.get(key), str):
                raise source.error((key,), f"{key} est requis avec lookup",
                                   expected="un nom de colonne", found=own.get(key))
        if not isinstance(own["lookup"], str):
            raise source.error(("lookup",), "lookup est le chemin de la table IRIS → QPV",
                               expected="un chemin de fichier", found=own["lookup"])
        lookup = read_data_table(path.parent / own["lookup"], TableMapping())
        for column in (*columns, own["lookup_name_column"]):
            find_column(lookup, column, (), column, True)
        name_column = find_column(table, own["iris_name_column"], (), "le nom de l'IRIS",
                                  True, "iris_name_column")
        assert name_column is not None
        reference = lookup.frame.astype(str).apply(lambda c: c.str.strip())
        reference["key"] = reference[own["lookup_name_column"]].map(search_key)
        ambiguous = reference["key"].duplicated(keep=False)
        by_name = reference[~ambiguous].set_index("key")
        names = table.frame[name_column].astype(str).str.strip()
        lost = (iris.str.lower().isin(_EMPTY) & kept).to_numpy()
        keys = names.map(search_key)
        found = lost & keys.isin(by_name.index).to_numpy()
        iris, qpv, commune = iris.copy(), qpv.copy(), commune.copy()
        for series, column in zip((iris, qpv, commune), columns, strict=True):
            series[found] = keys[found].map(by_name[column]).to_numpy()
        if found.any():
            rows = np.flatnonzero(found)
            listed = ", ".join(f"ligne {table.line_of(int(r))} « {names.iloc[r]} » → "
                               f"{iris.iloc[r]} ({qpv.iloc[r]})" for r in rows[:5])
            notes.append(f"{len(rows)} IRIS sans code dans le fichier retrouvé(s) par leur "
                         f"nom dans {own['lookup']} : {listed}")
        # a row with codes must agree with the lookup
        coded = (~iris.str.lower().isin(_EMPTY) & kept).to_numpy()
        expected_qpv = iris.map(reference.drop_duplicates(columns[0])
                                .set_index(columns[0])[columns[1]])
        differs = coded & expected_qpv.notna().to_numpy() & (expected_qpv != qpv).to_numpy()
        if differs.any():
            row = int(np.argmax(differs))
            raise table.error(f"QPV différent de celui de {own['lookup']} pour cet IRIS",
                              row=row, column=columns[1], expected=expected_qpv.iloc[row],
                              found=qpv.iloc[row])
        return iris, qpv, commune

    @staticmethod
    def _check_codes(table: Table, codes: pd.Series, column: str, pattern: str,
                     kept: pd.Series, expected: str) -> None:
        bad = (~codes.str.fullmatch(pattern) & kept).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            empty = codes.iloc[row].lower() in _EMPTY
            raise table.error("ligne sans code (une ligne de total ? déclarez-la avec "
                              "total_rows)" if empty else "le code n'est pas valide", row=row,
                              column=column, expected=expected, found=codes.iloc[row])

    @staticmethod
    def _new_qpv(table: Table, warehouse: Warehouse, generation: int, qpv: pd.Series,
                 commune: pd.Series, kept: pd.Series, names: pd.Series, commune_column: str,
                 notes: list[str]) -> dict[str, pd.DataFrame]:
        """Territories and commune memberships of the QPV the warehouse does not hold."""
        held = set(warehouse.names("QPV", generation))
        new = (~qpv.isin(held) & kept).to_numpy()
        if not new.any():
            return {}
        # the communes of the QPV of a generation are those of the COG nearest to it
        vintages = warehouse.vintages()
        vintage = min(vintages, key=lambda v: (abs(v - generation), v))
        known = warehouse.communes_in_vintage(set(commune[new]), vintage)
        unknown = new & ~commune.isin(known).to_numpy()
        if unknown.any():
            row = int(np.argmax(unknown))
            raise table.error("code de commune inconnu", row=row, column=commune_column,
                              expected=f"un code de commune du COG {vintage}",
                              found=commune.iloc[row])
        rows = pd.DataFrame({"code": qpv[new], "name": names[new], "commune": commune[new]})
        first = rows.drop_duplicates("code")
        territories = pd.DataFrame({
            "level": "QPV", "code": first["code"].to_numpy(object), "vintage": generation,
            "name": first["name"].to_numpy(object),
            "search_name": [search_key(n) for n in first["name"]],
            "population": pd.array([None] * len(first), dtype="Int64"), "siren": None,
            "kind": None, "zone": None})
        links = rows.drop_duplicates(["code", "commune"])
        memberships = pd.DataFrame({
            "vintage": generation, "level": "QPV", "code": links["code"].to_numpy(object),
            "parent_level": "COM", "parent_code": links["commune"].to_numpy(object)})
        notes.append(f"{len(first)} QPV absents de l'entrepôt ajoutés sans contour, rattachés "
                     f"aux communes de leurs IRIS ({len(links)} liens QPV → commune) : "
                     "importez leurs contours avec l'importeur qpv pour les cartes")
        return {"territories": territories, "memberships": memberships}

    @staticmethod
    def _ratios(source: Any, ratios: object, variables: set[str]) -> pd.DataFrame:
        """The declared ratios, as rows of ``indicator_definitions``."""
        if not isinstance(ratios, list) or not ratios:
            raise source.error(("ratios",), "ratios liste les indicateurs rapports de deux "
                               "variables", expected="une liste de {id, label, numerator, "
                               "denominator}", found=ratios)
        rows = []
        for position, ratio in enumerate(ratios):
            where = ("ratios", position)
            if not isinstance(ratio, dict) or set(ratio) - RATIO_KEYS:
                raise source.error(where, "clé de ratio inconnue",
                                   expected=", ".join(sorted(RATIO_KEYS)), found=ratio)
            for key in ("numerator", "denominator"):
                if ratio.get(key) not in variables:
                    raise source.error((*where, key), f"{key} doit être une variable de la "
                                       "description", expected=", ".join(sorted(variables)),
                                       found=ratio.get(key))
            if not isinstance(ratio.get("id"), str) or not ratio.get("label"):
                raise source.error(where, "un ratio a un id et un label",
                                   expected="id: taux_…, label: …", found=ratio)
            if ratio.get("direction", "neutral") not in set(Direction):
                raise source.error((*where, "direction"), "sens d'indicateur inconnu",
                                   expected=", ".join(Direction), found=ratio["direction"])
            rows.append({"indicator": ratio["id"], "kind": "Ratio", "label": ratio["label"],
                         "unit": ratio.get("unit", "%"), "numerator": ratio["numerator"],
                         "denominator": ratio["denominator"], "variable": None,
                         "scale": float(ratio.get("scale", 100.0)),
                         "direction": ratio.get("direction", "neutral"),
                         "source": "INSEE", "description": "Rapport des sommes sur les IRIS "
                         "du QPV (et sur les QPV du territoire)"})
        return pd.DataFrame(rows)
