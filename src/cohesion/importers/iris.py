"""Importer for INSEE's Filosofi tables by IRIS (``BASE_TD_FILO_DEC_IRIS_YYYY.xlsx``).

The workbook's sheet ``IRIS_DEC`` has a banner (title, publication date, *Géographie au
01/01/YYYY*, source), a row of French labels, then the header on row 6: ``IRIS``,
``LIBIRIS``, ``COM``, ``LIBCOM`` and one column per indicator with the year in its name
(``DEC_MED17``). Values are stored at level ``IRIS`` (the 9-character IRIS code), and
each IRIS is linked to its commune (or arrondissement municipal) in ``memberships`` so
that IRIS values can be related to communes.

Geography vintage: IRIS follow the commune geography of the file, which the banner
declares. A declared geography the référentiel holds (2021 and later) is used as is;
an older one (the 2017 file is in the 2018 geography) is stored in the earliest vintage
that knows every commune code, the closest to the file's. ``options.vintage`` overrides
both. Communes merged since the file's geography are refused, unless the option
``allow_former_codes`` links their IRIS to the commune they joined; those IRIS keep the
code INSEE published, which the later IRIS geography no longer has (said in the notes).

Missing values: besides ``s``, ``nd`` and empty cells, these files use ``ns`` (non
significatif) and ``so`` (sans objet); they are kept as missing with that reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportBatch, Importer, ImportOptions
from cohesion.importers.communes import resolve_communes
from cohesion.importers.insee import observations_from_wide
from cohesion.importers.reading import Table, parse_numbers, read_xlsx_table, require_columns
from cohesion.importers.sheets import sheet_head
from cohesion.indicators.variables import BY_ID, split_insee_column
from cohesion.store.warehouse import Warehouse

IRIS_LEVEL = "IRIS"
IRIS_CODE = re.compile(r"^\d[\dAB]\d{7}$")

#: Columns that describe the IRIS rather than measure it.
DESCRIPTIVE_COLUMNS = {"IRIS", "LIBIRIS", "COM", "LIBCOM", "TYP_IRIS", "LAB_IRIS",
                       "MODIF_IRIS", "GRD_QUART", "DEP", "REG", "UU2010", "UU2020"}

#: INSEE stem (year removed) → (variable, French label, unit). Medians, rates and
#: shares: none of them can be summed over IRIS.
DEC_VARIABLES: dict[str, tuple[str, str, str]] = {
    "DEC_PIMP": ("part_menages_imposes", BY_ID["part_menages_imposes"].label, "%"),
    "DEC_TP60": ("taux_bas_revenus_declares_60",
                 "Taux de bas revenus déclarés au seuil de 60 %", "%"),
    "DEC_Q1": ("revenu_declare_q1", "1er quartile du revenu déclaré par UC", "€"),
    "DEC_MED": ("revenu_declare_median", "Médiane du revenu déclaré par UC", "€"),
    "DEC_Q3": ("revenu_declare_q3", "3e quartile du revenu déclaré par UC", "€"),
    "DEC_EQ": ("revenu_declare_ecart_interquartile_relatif",
               "Écart interquartile du revenu déclaré par UC rapporté à la médiane", ""),
    **{f"DEC_D{d}": (f"revenu_declare_d{d}",
                     f"{'1er' if d == 1 else f'{d}e'} décile du revenu déclaré par UC", "€")
       for d in (1, 2, 3, 4, 6, 7, 8, 9)},
    "DEC_RD": ("revenu_declare_rapport_interdecile",
               "Rapport interdécile D9/D1 du revenu déclaré par UC", ""),
    "DEC_S80S20": ("revenu_declare_s80_s20", "Rapport S80/S20 du revenu déclaré par UC", ""),
    "DEC_GI": ("revenu_declare_gini", "Indice de Gini du revenu déclaré par UC", ""),
    "DEC_PACT": ("part_revenus_activite", "Part des revenus d'activité", "%"),
    "DEC_PTSA": ("part_salaires", "Part des salaires et traitements", "%"),
    "DEC_PCHO": ("part_indemnites_chomage", "Part des indemnités de chômage", "%"),
    "DEC_PBEN": ("part_revenus_non_salaries",
                 "Part des revenus des activités non salariées", "%"),
    "DEC_PPEN": ("part_pensions_retraites", "Part des pensions, retraites et rentes", "%"),
    "DEC_PAUT": ("part_autres_revenus",
                 "Part des autres revenus (essentiellement du patrimoine)", "%"),
    "DEC_NOTE": ("revenu_declare_note_precaution",
                 "Note de précaution sur les indicateurs de revenu déclaré", ""),
}


class FilosofiIris(Importer):
    """Filosofi indicators by IRIS (revenus déclarés, ``BASE_TD_FILO_DEC_IRIS_YYYY``).

    Options read from ``ImportOptions.extra``: ``sheet`` (default: the first sheet named
    ``IRIS…``), ``allow_former_codes`` (bool).
    """

    name = "filosofi-iris"
    title = "Filosofi : revenus déclarés des ménages par IRIS"
    producer = "INSEE"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        head = sheet_head(path, options.extra.get("sheet"), prefix="IRIS")
        header_row = head.header_row(("IRIS", "COM"), require_all=True)
        if header_row is None:
            raise self._no_header(path, head.sheet, head.rows)
        table = read_xlsx_table(path, head.sheet, header_row)
        require_columns(table, ["IRIS", "COM"], "l'IRIS et sa commune")
        labels = dict(zip(head.rows[header_row - 1], head.rows[header_row - 2], strict=False)) \
            if header_row >= 2 else {}
        columns, ignored = self._value_columns(table, options.period)
        if not columns:
            raise table.error("aucune colonne d'indicateur avec une année dans son nom", row=-1,
                              expected="des colonnes comme DEC_MED17",
                              found=", ".join(table.frame.columns[:8]))
        iris = self._iris_codes(table)
        values, reasons = parse_numbers(table, list(columns))

        notes = [f"colonnes sans année, non importées : {', '.join(ignored)}"] if ignored \
            else []
        declared = head.geography_year(header_row)
        vintage = options.vintage
        if vintage is None and declared in warehouse.vintages():
            vintage = declared
        communes = table.frame["COM"].astype(str).str.strip()
        resolution = resolve_communes(
            warehouse, table, communes, "COM", vintage=vintage,
            allow_former_codes=bool(options.extra.get("allow_former_codes", False)),
            coverage="partial")
        if declared is not None and declared != resolution.vintage:
            why = "comme demandé" if options.vintage is not None else \
                "le millésime le plus proche où tous les codes de commune existent"
            notes.append(f"le fichier déclare la géographie {declared} ; données rangées dans le "
                         f"COG {resolution.vintage}, {why}")
        if resolution.mapped:
            stale = communes.isin(list(resolution.mapped))
            notes.append(resolution.note(
                f"leurs {int(stale.sum())} IRIS rattachés à la commune actuelle et "
                "gardés sous le code publié par l'Insee, que la géographie IRIS ultérieure "
                "n'utilise peut-être plus"))

        observations = observations_from_wide(
            values, reasons, iris, pd.Series(IRIS_LEVEL, index=iris.index),
            resolution.vintage, columns)
        memberships = self._new_memberships(warehouse, resolution.vintage, iris,
                                            resolution.codes, resolution.levels)
        periods = sorted({period for _, period in columns.values()})
        return ImportBatch(observations=observations,
                           variables=self._variables(columns, labels),
                           tables={"memberships": memberships}, vintage=resolution.vintage,
                           periods=periods, rows=len(table.frame), notes=notes)

    @staticmethod
    def _no_header(path: Path, sheet: str, rows: list[tuple[object, ...]]) -> InputFileError:
        """The error for a sheet without the header row, pointing at the nearest row."""
        candidates = [number for number, row in enumerate(rows, start=1)
                      if any(str(cell).strip().upper() == "IRIS" for cell in row)]
        line = candidates[-1] if candidates else None
        cells = rows[line - 1] if line else (rows[0] if rows else ())
        found = ", ".join(str(c) for c in cells if c not in (None, ""))[:120]
        return InputFileError(f"{path} [feuille {sheet}]",
                              "aucune ligne d'en-tête avec les deux colonnes IRIS et "
                              "COM", line=line,
                              column="COM" if line else None,
                              expected="une ligne d'en-tête avec IRIS, COM et les indicateurs",
                              found=found or "une feuille vide")

    @staticmethod
    def _value_columns(table: Table, default_period: str | None
                       ) -> tuple[dict[str, tuple[str, str]], list[str]]:
        """Map indicator columns to (variable, period); list the columns left out."""
        columns: dict[str, tuple[str, str]] = {}
        ignored: list[str] = []
        for column in table.frame.columns:
            if column.upper() in DESCRIPTIVE_COLUMNS:
                continue
            split = split_insee_column(column)
            if split is None:
                if default_period is None:
                    ignored.append(column)
                    continue
                split = (column.upper(), default_period)
            stem, period = split
            variable = DEC_VARIABLES[stem][0] if stem in DEC_VARIABLES else stem.lower()
            columns[column] = (variable, period)
        return columns, ignored

    @staticmethod
    def _iris_codes(table: Table) -> pd.Series:
        """IRIS codes, checked: 9 characters, starting with the commune code, unique."""
        iris = table.frame["IRIS"].astype(str).str.strip()
        communes = table.frame["COM"].astype(str).str.strip()
        malformed = ~iris.str.match(IRIS_CODE.pattern)
        if malformed.any():
            row = int(np.argmax(malformed.to_numpy()))
            raise table.error("code IRIS mal formé", row=row, column="IRIS",
                              expected="9 caractères : le code de commune et 4 chiffres",
                              found=iris.iloc[row])
        elsewhere = iris.str[:5] != communes
        if elsewhere.any():
            row = int(np.argmax(elsewhere.to_numpy()))
            raise table.error("le code IRIS ne commence pas par son code de commune", row=row,
                              column="IRIS", expected=f"un code commençant par "
                              f"{communes.iloc[row]}", found=iris.iloc[row])
        duplicated = iris.duplicated()
        if duplicated.any():
            row = int(np.argmax(duplicated.to_numpy()))
            raise table.error("code IRIS en double", row=row, column="IRIS",
                              expected="une ligne par IRIS", found=iris.iloc[row])
        return iris

    @staticmethod
    def _new_memberships(warehouse: Warehouse, vintage: int, iris: pd.Series,
                         parents: pd.Series, parent_levels: pd.Series) -> pd.DataFrame:
        """IRIS → commune links not in the warehouse yet (another year may have them)."""
        links = pd.DataFrame({"vintage": vintage, "level": IRIS_LEVEL,
                              "code": iris.to_numpy(), "parent_level": parent_levels.to_numpy(),
                              "parent_code": parents.to_numpy()})
        existing = warehouse.query(
            "SELECT code, parent_level, parent_code FROM memberships "
            "WHERE vintage = ? AND level = ?", [vintage, IRIS_LEVEL])
        if existing.empty:
            return links
        key = ["code", "parent_level", "parent_code"]
        known = pd.MultiIndex.from_frame(existing[key].astype(str))
        return links[~pd.MultiIndex.from_frame(links[key].astype(str)).isin(known)]

    @staticmethod
    def _variables(columns: dict[str, tuple[str, str]], labels: dict[object, object]
                   ) -> pd.DataFrame:
        """Describe the variables; unknown stems take the label of the file's label row."""
        rows = {}
        for column, (variable, _) in columns.items():
            stem = (split_insee_column(column) or (column.upper(), ""))[0]
            if stem in DEC_VARIABLES:
                _, label, unit = DEC_VARIABLES[stem]
            else:
                label, unit = str(labels.get(column) or column), None
            rows[variable] = (variable, label, unit, False, column)
        return pd.DataFrame(list(rows.values()),
                            columns=["variable", "label", "unit", "additive", "source_column"])
