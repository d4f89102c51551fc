"""Importers of funding lines: politique de la ville posts and dotations d'investissement.

Two importers write the ``funding_lines`` table (one line a post or a grant, see
:mod:`cohesion.policies.funding`) and turn the money into additive variables:

- :class:`PostesPolitiqueVille` (``postes-politique-ville``): ANCT's JSON lists of the
  posts the State funds in associations, ``adulte-relais-YYYY.json`` and
  ``postes-fonjep-YYYY.json`` (2020-2025): one record a post, ``id_poste``,
  ``code_tiers`` (the employer's SIRET for adultes-relais, its name for FONJEP until
  2023, absent since), ``raison_sociale``, ``annee``, ``montant``, ``code_cv``,
  ``insee_dep``, ``insee_reg``. Per département and year: ``montant_{dispositif}`` (€)
  and ``postes_{dispositif}``.
- :class:`DotationsInvestissement` (``dotations-investissement``): the DGCL's table of
  the State's investment grants to local authorities processed by ANCT
  (``projets_dotations_investissement_2019.xlsx``, sheet ``Projets_…``, its fields
  described in ``README_source.md``). Per département, every grant of the département
  (to communes, EPCI and the département itself): ``montant_detr``, ``montant_dsil``,
  ``montant_dsid``; per commune, the grants to the commune; per EPCI, in every vintage,
  the grants to its communes and to the EPCI itself (by its SIREN).

Both are all or nothing: a malformed file or record is an
:class:`~cohesion.errors.InputFileError` naming the file, the line (for JSON, the text
line where the bad record starts, and the record's position in the array, counting
from 1, in the message: ANCT's files hold their whole array on one line), the column,
what was expected and what was found. The problems of the real files are not errors:
each is detected, counted in the import notes, and never lets a euro count twice (the
rules are in :func:`cohesion.policies.funding.resolve_posts` and ``docs/policies.md``).

Options read from ``ImportOptions.extra``: ``dispositif`` (``adultes-relais`` or
``fonjep``, default: from the file name) and ``seuil_annee_partielle`` (the fall from
the previous year, in %, beyond which a year is flagged as partial; default 20) for the
posts; ``sheet`` and ``allow_former_codes`` (map the codes of communes merged since
the file's geography, as for BPE files) for the dotations. ``ImportOptions.period``
sets the year of a dotations file whose name does not give it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from cohesion.errors import CohesionError, ConflictError, InputFileError
from cohesion.importers.base import REPLACING_TABLES, ImportBatch, Importer, ImportOptions
from cohesion.importers.communes import resolve_communes
from cohesion.importers.reading import (
    Table,
    check_not_empty_or_binary,
    parse_numbers,
    read_xlsx_table,
    require_columns,
)
from cohesion.importers.sheets import sheet_head
from cohesion.policies.funding import (
    DISPOSITIFS,
    PARTIAL_YEAR_THRESHOLD,
    Dispositif,
    chained_lists,
    content_key,
    counted,
    dispositif,
    dispositif_from_name,
    exact_duplicates,
    format_euros,
    funding_key,
    normalise_themes,
    parse_amounts,
    parse_years,
    partial_year,
    resolve_posts,
    siret_and_siren,
    text_values,
)
from cohesion.store.warehouse import Warehouse
from cohesion.territory.passage import chain, convert_counts

#: Columns of the ``funding_lines`` table an importer fills (``dataset_id`` aside).
FUNDING_COLUMNS = ["line_key", "programme", "dispositif", "year", "beneficiary", "siret",
                   "siren", "amount", "posts", "contrat_ville", "code_commune",
                   "departement", "region", "label", "theme", "description", "total_cost"]

#: Fields of ANCT's post records: (name, required).
POST_FIELDS = (("id_poste", True), ("code_tiers", False), ("raison_sociale", False),
               ("annee", True), ("montant", True), ("code_cv", False),
               ("insee_dep", False), ("insee_reg", False))

#: Dispositifs whose lines are posts, read by :class:`PostesPolitiqueVille`.
POST_DISPOSITIFS = tuple(d.id for d in DISPOSITIFS.values() if d.counts_posts)

#: Collectivités that receive dotations as a département would but are not one in the
#: COG: code in the file → (name, région).
COLLECTIVITES_SANS_DEPARTEMENT = {"20A": ("Collectivité de Corse", "94")}

#: Longest ``label`` kept from a grant's description.
LABEL_LENGTH = 120


# -- JSON records -----------------------------------------------------------------------

def read_json_records(path: Path) -> tuple[list[dict[str, object]], list[int]]:
    """The objects of a JSON array, and the text line where each starts.

    The array is decoded one record at a time, so a truncated or damaged file is
    refused at the record where it breaks: the error's ``line`` is the text line, its
    message names the record's position in the array (counting from 1).

    Raises
    ------
    InputFileError
        For a missing, empty or binary file, text that is not UTF-8, anything but an
        array of objects, or a record that cannot be decoded.
    """
    check_not_empty_or_binary(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputFileError(path, "le fichier n'est pas un texte UTF-8",
                             expected="un fichier JSON en UTF-8",
                             found=f"l'octet 0x{error.object[error.start]:02x} à la position "
                                   f"{error.start}") from None
    decoder = json.JSONDecoder()
    position = _skip_blanks(text, 0)
    if not text.startswith("[", position):
        raise InputFileError(path, "le fichier n'est pas un tableau JSON d'enregistrements",
                             line=1, expected="un tableau [{…}, {…}]",
                             found=text[position:position + 40])
    records: list[dict[str, object]] = []
    lines: list[int] = []
    position = _skip_blanks(text, position + 1)
    if text.startswith("]", position):
        return records, lines
    counter = _LineCounter(text)
    while True:
        number = len(records) + 1
        line = counter.line_at(position)
        try:
            record, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise InputFileError(
                path, f"JSON illisible dans l'enregistrement {number} : {error.msg} "
                f"(caractère {error.colno}) ; le fichier est-il tronqué ?",
                line=error.lineno, expected="un objet JSON complet {…}",
                found=text[error.pos:error.pos + 40] or "la fin du fichier") from None
        if not isinstance(record, dict):
            raise InputFileError(path, f"l'enregistrement {number} n'est pas un objet JSON",
                                 line=line, expected="un objet {\"id_poste\": …}",
                                 found=json.dumps(record, ensure_ascii=False)[:40])
        records.append(record)
        lines.append(line)
        position = _skip_blanks(text, position)
        if text.startswith(",", position):
            position = _skip_blanks(text, position + 1)
            continue
        if text.startswith("]", position):
            break
        raise InputFileError(
            path, f"tableau JSON mal formé après l'enregistrement {number} (le fichier "
            "est-il tronqué ?)", line=counter.line_at(position), expected="',' ou ']'",
            found=text[position:position + 40] or "la fin du fichier")
    rest = _skip_blanks(text, position + 1)
    if rest < len(text):
        raise InputFileError(path, "du texte suit la fin du tableau JSON",
                             line=counter.line_at(rest), expected="la fin du fichier après ']'",
                             found=text[rest:rest + 40])
    return records, lines


class _LineCounter:
    """The text line (from 1) of positions met in increasing order, counted once."""

    def __init__(self, text: str) -> None:
        self.text, self.position, self.line = text, 0, 1

    def line_at(self, position: int) -> int:
        self.line += self.text.count("\n", self.position, position)
        self.position = position
        return self.line


def _record_error(path: Path, message: str, number: int, line: int,
                  **details: str | None) -> InputFileError:
    """An error in the ``number``-th record, which starts on text ``line`` of the file."""
    return InputFileError(path, f"enregistrement {number} : {message}", line=line, **details)


def _skip_blanks(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _text_field(path: Path, values: pd.Series, records: pd.Series, lines: pd.Series,
                column: str) -> pd.Series:
    """Text of a field (None when absent or blank); a number becomes its digits."""
    def text(value: object) -> str | None:
        if value is None:
            return None
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str):
            return value.strip() or None
        return ""  # a list, an object, a boolean or a float: refused below

    result = values.map(text)
    bad = result.eq("").to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise _record_error(path, "valeur d'un type inattendu", int(records.iloc[row]),
                            int(lines.iloc[row]), column=column, expected="un texte",
                            found=json.dumps(values.iloc[row], ensure_ascii=False)[:40])
    return result.astype(object).where(result.notna(), None)


def _code_field(values: pd.Series) -> pd.Series:
    """A code that JSON may give as a number (``1`` for département ``01``)."""
    return values.map(lambda v: v.zfill(2) if isinstance(v, str) and v.isdigit() else v)


# -- the référentiel ----------------------------------------------------------------------

def departement_vintage(warehouse: Warehouse, path: Path, codes: pd.Series,
                        fail: Callable[[int, int], None]) -> int:
    """The latest COG vintage that knows every département code of ``codes``.

    ``codes`` holds None where a line has no département. ``fail(row, vintage)`` is
    called with the position of the first code unknown in the vintage that knows the
    most of them (the latest on a tie) and must raise.
    """
    known = warehouse.query("SELECT vintage, code FROM territories WHERE level = 'DEP'")
    if known.empty:
        raise InputFileError(path, "le référentiel est vide : lancez `cohesion build` avant "
                             "d'importer")
    present = codes.dropna()
    best: tuple[int, int] | None = None
    for vintage, group in sorted(known.groupby("vintage"), key=lambda g: -g[0]):
        unknown = int((~present.isin(set(group["code"]))).sum())
        if unknown == 0:
            return int(vintage)
        if best is None or unknown < best[0]:
            best = (unknown, int(vintage))
    assert best is not None
    chosen = best[1]
    codes_of = set(known.loc[known["vintage"] == chosen, "code"])
    unknown_rows = (codes.notna() & ~codes.isin(codes_of)).to_numpy()
    fail(int(np.argmax(unknown_rows)), chosen)
    raise AssertionError("fail() must raise")


def regions_of(warehouse: Warehouse, vintage: int) -> pd.Series:
    """Région code of each département of ``vintage``."""
    links = warehouse.query(
        "SELECT code, parent_code FROM memberships WHERE vintage = ? AND level = 'DEP' "
        "AND parent_level = 'REG'", [vintage])
    return links.drop_duplicates("code").set_index("code")["parent_code"]


def check_new_lines(warehouse: Warehouse, keys: pd.Series, options: ImportOptions,
                    path: Path) -> None:
    """Refuse lines another dataset already holds: their money would count twice.

    A file changed since its import (another checksum) has the same line keys; it can
    replace the earlier lines only with ``--replace`` and when the warehouse replaces
    funding lines by key (``funding_lines`` in
    :data:`~cohesion.importers.base.REPLACING_TABLES`).
    """
    connection = warehouse.connection
    connection.register("_incoming_keys", pd.DataFrame({"line_key": keys.to_numpy()}))
    try:
        found = warehouse.query(
            "SELECT count(*) AS n, min(line_key) AS example, min(dataset_id) AS dataset "
            "FROM funding_lines WHERE line_key IN (SELECT line_key FROM _incoming_keys)")
    finally:
        connection.unregister("_incoming_keys")
    count = int(found["n"].iloc[0])
    if count and not (options.replace and "funding_lines" in REPLACING_TABLES):
        raise ConflictError(
            f"{path.name} : {count} lignes de financement sont déjà dans l'entrepôt (par "
            f"exemple {found['example'].iloc[0]}, jeu de données "
            f"{int(found['dataset'].iloc[0])}) : les importer à nouveau compterait leur "
            "argent deux fois ; supprimez d'abord le jeu de données précédent")


def funding_variables(dispositifs: list[Dispositif], posts: bool,
                      source_column: str) -> pd.DataFrame:
    """Describe ``montant_{dispositif}`` (and ``postes_{dispositif}``) for ``variables``.

    Examples
    --------
    >>> funding_variables([DISPOSITIFS["fonjep"]], True, "montant")[["variable", "unit"]]
    ... # doctest: +NORMALIZE_WHITESPACE
            variable   unit
    0  montant_fonjep      €
    1   postes_fonjep postes
    """
    rows = []
    for found in dispositifs:
        rows.append((found.amount_variable, f"{found.label} : montant attribué", "€", True,
                     source_column))
        if posts and found.posts_variable:
            rows.append((found.posts_variable, f"{found.label} : nombre de postes",
                         "postes", True, "id_poste"))
    return pd.DataFrame(rows, columns=["variable", "label", "unit", "additive",
                                       "source_column"])


def _observations(frame: pd.DataFrame, level: str, vintage: int) -> pd.DataFrame:
    """Observations from a ``variable, code, period, value`` frame."""
    return pd.DataFrame({"variable": frame["variable"].to_numpy(), "level": level,
                         "code": frame["code"].to_numpy(), "vintage": vintage,
                         "period": frame["period"].astype(str).to_numpy(),
                         "value": frame["value"].astype("float64").to_numpy(),
                         "missing": None})


def _contrat_sums(warehouse: Warehouse, frame: pd.DataFrame, found: Dispositif, vintage: int,
                  notes: list[str]) -> pd.DataFrame:
    """Money and posts by contrat de ville, for the contrats the warehouse holds as a level.

    The contrats de ville 2024 (``CN…``) are the level ``CV`` once their list is imported
    (``zonage`` importer), those of 2015 (``CV…``) the level ``CV2015``
    (``contrats-ville-2015`` importer); a line of a contrat neither level holds counts by
    département only, said in the notes.
    """
    lines = frame[frame["contrat_ville"].notna()]
    held = np.zeros(len(lines), dtype=bool)
    observations = []
    levels = []
    for level in CONTRAT_LEVELS:
        known = set(warehouse.names(level, vintage))
        if not known:
            continue
        levels.append(level)
        here = lines["contrat_ville"].isin(known).to_numpy() & ~held
        held |= here
        sums = lines[here].groupby(["contrat_ville", "year"], sort=True).agg(
            amount=("amount", "sum"), posts=("posts", "sum")).reset_index()
        values = pd.concat([sums.assign(variable=found.amount_variable, value=sums["amount"]),
                            sums.assign(variable=found.posts_variable, value=sums["posts"])],
                           ignore_index=True).rename(columns={"contrat_ville": "code",
                                                              "year": "period"})
        observations.append(_observations(values, level, vintage))
    if levels and not held.all():
        outside = lines.loc[~held, "contrat_ville"]
        notes.append(counted(int((~held).sum()), "ligne rattachée", "lignes rattachées")
                     + f" à {outside.nunique()} contrat(s) de ville absent(s) des échelons "
                     f"{', '.join(levels)} (par exemple {outside.iloc[0]}) : comptée(s) par "
                     "département seulement")
    if not observations:
        return _observations(pd.DataFrame(columns=["variable", "code", "period", "value"]),
                             CONTRAT_LEVEL, vintage)
    return pd.concat(observations, ignore_index=True)


#: The level of the contrats de ville 2024 (imported with the ``zonage`` importer).
CONTRAT_LEVEL = "CV"
#: The levels of the contrats de ville 2024 and 2015 (``contrats-ville-2015`` importer).
CONTRAT_LEVELS = (CONTRAT_LEVEL, "CV2015")


def _option(options: ImportOptions, name: str, default: object) -> object:
    return options.extra.get(name, default)


# -- posts of the politique de la ville ---------------------------------------------------

class PostesPolitiqueVille(Importer):
    """ANCT's adultes-relais and FONJEP posts (``adulte-relais-2024.json``…).

    One funding line a post and year (``posts`` = 1, ``amount`` = ``montant``), keyed
    ``{dispositif}:{year}:{id_poste}``; ``siret`` is ``code_tiers`` when it has 14
    digits (``siren`` its first 9). Per département and year, ``montant_{dispositif}``
    and ``postes_{dispositif}`` (DEP level, in the latest COG vintage that knows every
    code). Posts without a département (Saint-Martin, French Polynesia: the file
    leaves ``insee_dep`` out) stay in the lines but in no département, and are
    counted in the notes.
    """

    name = "postes-politique-ville"
    title = "Postes adultes-relais et FONJEP de la politique de la ville"
    producer = "ANCT"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        chosen = _option(options, "dispositif", None)
        if chosen is not None:
            found = dispositif(str(chosen), among=POST_DISPOSITIFS)
        else:
            found = dispositif_from_name(path.name)
            if found is None:
                raise InputFileError(path, "impossible de déterminer le dispositif d'après le "
                                     "nom du fichier",
                                     expected="adulte-relais ou fonjep dans le nom, ou "
                                     "--option dispositif=adultes-relais|fonjep",
                                     found=path.name)
        records, lines = read_json_records(path)
        if not records:
            raise InputFileError(path, "le fichier ne contient aucun poste",
                                 expected="au moins un enregistrement")
        rows, notes = self.rows(path, records, lines)
        # where a record is in the file is no part of a row's content
        resolution = resolve_posts(rows.drop(columns=["record", "text_line"]),
                                   id_column="id_poste",
                                   year_column="year", amount_column="amount")
        notes += resolution.notes()
        lines = resolution.lines
        chained = chained_lists(rows["id_poste"])
        if chained is not None:
            notes.append(self._chained_note(rows, chained, lines))

        def fail(row: int, vintage: int) -> None:
            raise _record_error(path, "code de département inconnu",
                                int(rows["record"].iloc[row]), int(rows["text_line"].iloc[row]),
                                column="insee_dep",
                                expected=f"un code de département du COG {vintage}",
                                found=rows["departement"].iloc[row])

        vintage = departement_vintage(warehouse, path, rows["departement"], fail)
        frame = self._funding_lines(found, lines)
        check_new_lines(warehouse, frame["line_key"], options, path)
        notes += self._line_notes(frame, lines)
        notes += self._partial_years(found, frame, warehouse, path, options)

        located = frame[frame["departement"].notna()]
        sums = located.groupby(["departement", "year"], sort=True).agg(
            amount=("amount", "sum"), posts=("posts", "sum")).reset_index()
        blocks = [sums.assign(variable=found.amount_variable, value=sums["amount"]),
                  sums.assign(variable=found.posts_variable, value=sums["posts"])]
        values = pd.concat(blocks, ignore_index=True).rename(
            columns={"departement": "code", "year": "period"})
        periods = sorted({str(y) for y in frame["year"]})
        observations = [_observations(values, "DEP", vintage),
                        _contrat_sums(warehouse, frame, found, vintage, notes)]
        return ImportBatch(observations=pd.concat(observations, ignore_index=True),
                           variables=funding_variables([found], True, "montant"),
                           tables={"funding_lines": frame}, vintage=vintage,
                           periods=periods, rows=len(records), notes=notes)

    def rows(self, path: Path, records: list[dict[str, object]], lines: list[int]
              ) -> tuple[pd.DataFrame, list[str]]:
        """The records as a frame of typed values, refusing malformed ones."""
        raw = pd.DataFrame({name: [r.get(name) for r in records] for name, _ in POST_FIELDS},
                           dtype=object)
        number = pd.Series(np.arange(1, len(records) + 1), index=raw.index)
        text_line = pd.Series(lines, index=raw.index)
        for name, required in POST_FIELDS:
            absent = raw[name].isna().to_numpy()
            if required and absent.any():
                row = int(np.argmax(absent))
                raise _record_error(path, f"champ {name!r} absent ou vide", row + 1,
                                    lines[row], column=name,
                                    expected=f"une valeur de {name}", found="aucune valeur")
        years = parse_years(raw["annee"])
        if years.isna().any():
            row = int(np.argmax(years.isna().to_numpy()))
            raise _record_error(path, "année illisible", row + 1, lines[row], column="annee",
                                expected="une année sur quatre chiffres (2024 ou \"2024\")",
                                 found=json.dumps(raw["annee"].iloc[row], ensure_ascii=False))
        amounts = parse_amounts(raw["montant"])
        if amounts.isna().any():
            row = int(np.argmax(amounts.isna().to_numpy()))
            raise _record_error(path, "montant illisible", row + 1, lines[row],
                                column="montant", expected="un montant en euros (un nombre)",
                                found=json.dumps(raw["montant"].iloc[row],
                                                 ensure_ascii=False)[:40])
        texts = {name: _text_field(path, raw[name], number, text_line, name)
                 for name, _ in POST_FIELDS if name not in ("annee", "montant")}
        blank = texts["id_poste"].isna().to_numpy()
        if blank.any():
            row = int(np.argmax(blank))
            raise _record_error(path, "identifiant de poste vide", row + 1, lines[row],
                                column="id_poste", expected="un identifiant de poste",
                                found=json.dumps(raw["id_poste"].iloc[row], ensure_ascii=False))
        rows = pd.DataFrame({
            "id_poste": texts["id_poste"], "year": years.astype("int64"), "amount": amounts,
            "code_tiers": texts["code_tiers"], "beneficiary": texts["raison_sociale"],
            "contrat_ville": texts["code_cv"],
            "departement": _code_field(texts["insee_dep"]),
            "region": _code_field(texts["insee_reg"])})
        notes = []
        text_years = int(text_values(raw["annee"]).sum())
        if text_years:
            notes.append(counted(text_years, "ligne donne", "lignes donnent")
                         + f" l'année en texte (\"{years.iloc[0]}\") au lieu d'un nombre : "
                         "lue comme un nombre")
        text_amounts = int(text_values(raw["montant"]).sum())
        if text_amounts:
            notes.append(counted(text_amounts, "ligne donne", "lignes donnent")
                         + " le montant en texte : lu comme un nombre")
        rows["record"] = number
        rows["text_line"] = text_line
        return rows, notes

    def _chained_note(self, rows: pd.DataFrame, chained: pd.Series,
                      lines: pd.DataFrame) -> str:
        """Say where the lists start, and the posts only the earlier lists hold."""
        starts = [int(rows["record"].iloc[int(np.argmax((chained == n).to_numpy()))])
                  for n in range(1, int(chained.max()) + 1)]
        last = chained.max()
        in_last = set(rows.loc[(chained == last).to_numpy(), "id_poste"])
        only_before = lines[~lines["id_poste"].isin(in_last)]
        return (f"l'ordre des postes recommence à l'enregistrement "
                f"{', '.join(map(str, starts))} : le fichier enchaîne {int(last) + 1} listes "
                f"de l'année ; {len(only_before)} postes ne figurent que dans une liste "
                f"antérieure à la dernière ({format_euros(only_before['amount'].sum())}), "
                "conservés (à vérifier : postes terminés ?)")

    def _funding_lines(self, found: Dispositif, lines: pd.DataFrame) -> pd.DataFrame:
        siret, siren = siret_and_siren(lines["code_tiers"])
        return pd.DataFrame({
            "line_key": [funding_key(found.id, y, i)
                         for y, i in zip(lines["year"], lines["id_poste"], strict=True)],
            "programme": found.programme, "dispositif": found.id,
            "year": lines["year"].astype("int64"), "beneficiary": lines["beneficiary"],
            "siret": siret, "siren": siren, "amount": lines["amount"].astype("float64"),
            "posts": 1.0, "contrat_ville": lines["contrat_ville"], "code_commune": None,
            "departement": lines["departement"], "region": lines["region"],
            "label": [f"{found.label} : poste {i}" for i in lines["id_poste"]],
            "theme": None, "description": None, "total_cost": np.nan,
        })[FUNDING_COLUMNS]

    def _line_notes(self, frame: pd.DataFrame, lines: pd.DataFrame) -> list[str]:
        notes = []
        no_contrat = frame["contrat_ville"].isna()
        if no_contrat.any():
            count = int(no_contrat.sum())
            notes.append(counted(count, "poste", "postes") + " sans code de contrat de ville "
                         f"({format_euros(frame.loc[no_contrat, 'amount'].sum())}) : "
                         + ("gardé, compté dans son" if count == 1 else
                            "gardés, comptés dans leur") + " département")
        no_departement = frame["departement"].isna()
        if no_departement.any():
            count = int(no_departement.sum())
            contrats = sorted(frame.loc[no_departement, "contrat_ville"].dropna().unique())
            notes.append(counted(count, "poste", "postes") + " sans département "
                         f"({format_euros(frame.loc[no_departement, 'amount'].sum())}"
                         + (f", contrats de ville {', '.join(contrats)}" if contrats else "")
                         + ") : " + ("gardé, compté" if count == 1 else "gardés, comptés")
                         + " dans les lignes de financement, dans aucun département")
        named = lines["code_tiers"].notna() & frame["siret"].isna().to_numpy()
        if named.any():
            notes.append(counted(int(named.sum()), "poste", "postes") + " dont le code_tiers "
                         "n'est pas un SIRET (14 chiffres) mais un nom : SIRET non renseigné")
        return notes

    def _partial_years(self, found: Dispositif, frame: pd.DataFrame, warehouse: Warehouse,
                       path: Path, options: ImportOptions) -> list[str]:
        """Flag the years that look partial (compared with the year before)."""
        given = _option(options, "seuil_annee_partielle", PARTIAL_YEAR_THRESHOLD * 100)
        try:
            threshold = float(given) / 100  # type: ignore[arg-type]
        except (TypeError, ValueError):
            threshold = np.nan
        if not 0 < threshold < 1:
            raise CohesionError(f"option seuil_annee_partielle invalide : {given!r} (attendu "
                                "un pourcentage entre 0 et 100, par exemple 20)")
        file_date = datetime.fromtimestamp(path.stat().st_mtime).date()
        totals = frame.groupby("year").agg(posts=("posts", "sum"), amount=("amount", "sum"))
        notes = []
        for year, row in totals.iterrows():
            if year - 1 in totals.index:
                previous = tuple(totals.loc[year - 1, ["posts", "amount"]])
            else:
                before = warehouse.query(
                    "SELECT count(*) AS n, sum(posts) AS posts, sum(amount) AS amount "
                    "FROM funding_lines WHERE dispositif = ? AND year = ?",
                    [found.id, int(year) - 1])
                previous = (float(before["posts"].iloc[0]), float(before["amount"].iloc[0])) \
                    if int(before["n"].iloc[0]) else None
            reasons = partial_year(int(year), float(row["posts"]), float(row["amount"]),
                                   previous, file_date=file_date, today=date.today(),
                                   threshold=threshold)
            if reasons:
                notes.append(f"année {year} peut-être incomplète : {' ; '.join(reasons)} ; "
                             "signalée, rien n'est écarté")
        return notes


# -- dotations d'investissement -----------------------------------------------------------

#: Columns of the dotations table, as the field dictionary names them.
DOTATION_REQUIRED = ["id_dep", "id_terr", "dotation", "echelon", "montant_sub"]
DOTATION_OPTIONAL = ["id_projet", "nom_terr", "categorie", "description", "cout_total"]

#: Échelons of the beneficiaries, by their spelling in the file.
ECHELONS = {"commune": "commune", "epci": "epci", "conseil_departemental": "departement",
            "conseil departemental": "departement", "departement": "departement"}


@dataclass
class _Rows(Table):
    """Some rows of a table, whose errors name the file lines of those rows."""

    positions: np.ndarray | None = None

    def line_of(self, row: int) -> int:
        if self.positions is None or row < 0:
            return super().line_of(row)
        return self.first_line + int(self.positions[row])


class DotationsInvestissement(Importer):
    """The State's dotations d'investissement to local authorities (DETR, DSIL, DSID).

    One funding line a grant (``montant_sub``), keyed ``{dotation}:{year}:{id_projet}``
    (a hash of the row's content when the file has no ``id_projet``): beneficiary
    ``nom_terr``, its SIREN (an EPCI's ``id_terr``, a commune's from the
    référentiel), ``code_commune`` for grants to communes, ``departement`` (``id_dep``)
    and its région, ``theme`` (the dictionary's label of ``categorie``), the project's
    ``description`` (and its first words as ``label``), ``total_cost``
    (``cout_total``). Observations: ``montant_{dotation}`` per département (all grants
    in it), per commune (the grants to the commune) and per EPCI of every vintage (the
    grants to its communes and to itself, :meth:`_epci_totals`).
    """

    name = "dotations-investissement"
    title = "Dotations d'investissement de l'État aux collectivités (DETR, DSIL, DSID)"
    producer = "DGCL, traitement ANCT"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        table = self.read_table(path, options)
        frame = table.frame
        year = self.year_of(path, table, options)
        notes: list[str] = []
        duplicate = exact_duplicates(frame).to_numpy()
        if duplicate.any():
            notes.append(counted(int(duplicate.sum()), "ligne en double exact : gardée une "
                                 "fois", "lignes en double exact : gardées une fois"))
        rows = np.flatnonzero(~duplicate)
        data = frame.iloc[rows].reset_index(drop=True)
        subset = _Rows(table.path, data, table.first_line, sheet=table.sheet, positions=rows)

        kinds = self.dispositifs_of(subset)
        echelons = self.echelons_of(subset)
        values, _ = parse_numbers(subset, [c for c in ("montant_sub", "cout_total")
                                           if c in data.columns])
        missing_amount = values["montant_sub"].isna().to_numpy()
        if missing_amount.any():
            row = int(np.argmax(missing_amount))
            raise subset.error("montant de subvention manquant", row=row, column="montant_sub",
                               expected="un montant en euros", found=data["montant_sub"].iloc[row])
        amount = values["montant_sub"]
        total_cost = values["cout_total"] if "cout_total" in values else \
            pd.Series(np.nan, index=data.index)

        departements = data["id_dep"].astype(str).str.strip()
        collectivite = departements.isin(set(COLLECTIVITES_SANS_DEPARTEMENT)).to_numpy()
        dep_codes = departements.where(~collectivite, None)

        def fail(row: int, vintage: int) -> None:
            raise subset.error("code de département inconnu", row=row, column="id_dep",
                               expected=f"un code de département du COG {vintage} (ou "
                               f"{', '.join(COLLECTIVITES_SANS_DEPARTEMENT)})",
                               found=departements.iloc[row])

        dep_vintage = departement_vintage(warehouse, path, dep_codes, fail)
        regions = dep_codes.map(regions_of(warehouse, dep_vintage))
        regions[collectivite] = [COLLECTIVITES_SANS_DEPARTEMENT[c][1]
                                 for c in departements[collectivite]]
        if collectivite.any():
            names = sorted({COLLECTIVITES_SANS_DEPARTEMENT[c][0]
                            for c in departements[collectivite]})
            notes.append(counted(int(collectivite.sum()), "subvention", "subventions")
                         + " à une collectivité qui n'est "
                         f"pas un département ({', '.join(names)}, code "
                         f"{', '.join(sorted(set(departements[collectivite])))}) : gardées "
                         "avec leur région, comptées dans aucun département")

        codes = data["id_terr"].astype(str).str.strip()
        communes = np.flatnonzero((echelons == "commune").to_numpy())
        code_commune = pd.Series(None, index=data.index, dtype=object)
        siren = pd.Series(None, index=data.index, dtype=object)
        commune_observations = pd.DataFrame()
        com_vintage = None
        if len(communes):
            part = _Rows(table.path, data.iloc[communes].reset_index(drop=True),
                         table.first_line, sheet=table.sheet, positions=rows[communes])
            resolution = resolve_communes(
                warehouse, part, codes.iloc[communes].reset_index(drop=True), "id_terr",
                vintage=options.vintage, coverage="partial",
                allow_former_codes=bool(_option(options, "allow_former_codes", False)))
            if (note := resolution.note("leurs subventions additionnées")) is not None:
                notes.append(note)
            com_vintage = resolution.vintage
            code_commune.iloc[communes] = resolution.codes.to_numpy()
            sirens = warehouse.query(
                "SELECT code, siren FROM territories WHERE level = 'COM' AND vintage = ?",
                [com_vintage]).set_index("code")["siren"]
            siren.iloc[communes] = resolution.codes.map(sirens).to_numpy()
            granted = pd.DataFrame({
                "code": resolution.codes.to_numpy(), "level": resolution.levels.to_numpy(),
                "variable": [DISPOSITIFS[k].amount_variable for k in kinds.iloc[communes]],
                "value": amount.iloc[communes].to_numpy()})
            summed = granted.groupby(["variable", "level", "code"], sort=True)["value"].sum()
            commune_observations = summed.reset_index().assign(period=str(year))
        epci = (echelons == "epci").to_numpy()
        siren[epci] = codes[epci].where(codes[epci].str.fullmatch(r"\d{9}"), None)
        epci_observations = self._epci_totals(
            warehouse, commune_observations, siren[epci],
            kinds.map(lambda k: DISPOSITIFS[k].amount_variable), amount, com_vintage, year,
            notes)

        themes, variant = (normalise_themes(data["categorie"]) if "categorie" in data
                           else (pd.Series(None, index=data.index, dtype=object),
                                 pd.Series(False, index=data.index)))
        if variant.any():
            notes.append(counted(int(variant.sum()), "catégorie écrite", "catégories écrites")
                         + " autrement que dans le "
                         "dictionnaire des champs (majuscules, pluriel, espaces) : "
                         "rapportées à sa catégorie de même numéro")
        description = self._text(data, "description")
        if description.isna().any() and "description" in data:
            notes.append(counted(int(description.isna().sum()), "projet", "projets")
                         + " sans description")
        over = (amount > total_cost + 0.005).to_numpy()
        if over.any():
            notes.append(counted(int(over.sum()), "subvention supérieure",
                                 "subventions supérieures") + " au coût total déclaré du "
                         "projet (coût nul ou erroné) : montants gardés tels quels")

        lines = pd.DataFrame({
            "programme": [DISPOSITIFS[k].programme for k in kinds], "dispositif": kinds,
            "year": year, "beneficiary": self._text(data, "nom_terr"), "siret": None,
            "siren": siren, "amount": amount.astype("float64"), "posts": np.nan,
            "contrat_ville": None, "code_commune": code_commune, "departement": dep_codes,
            "region": regions.astype(object).where(regions.notna(), None),
            "label": description.map(_label), "theme": themes,
            "description": description, "total_cost": total_cost.astype("float64"),
        })
        lines.insert(0, "line_key", self._keys(subset, lines, kinds, year))
        lines = lines[FUNDING_COLUMNS]
        check_new_lines(warehouse, lines["line_key"], options, path)

        located = lines[lines["departement"].notna()]
        per_dep = located.groupby(["dispositif", "departement"], sort=True)["amount"].sum()
        per_dep = per_dep.reset_index().rename(columns={"departement": "code",
                                                        "amount": "value"})
        per_dep = per_dep.assign(variable=per_dep["dispositif"].map(
            lambda k: DISPOSITIFS[k].amount_variable), period=str(year))
        observations = [_observations(per_dep, "DEP", dep_vintage)]
        if not commune_observations.empty:
            for level, group in commune_observations.groupby("level"):
                observations.append(_observations(group, str(level), int(com_vintage)))
        observations.extend(epci_observations)
        used = [DISPOSITIFS[k] for k in sorted(set(kinds))]
        return ImportBatch(observations=pd.concat(observations, ignore_index=True),
                           variables=funding_variables(used, False, "montant_sub"),
                           tables={"funding_lines": lines}, vintage=com_vintage or dep_vintage,
                           periods=[str(year)], rows=len(frame), notes=notes)

    @staticmethod
    def _epci_totals(warehouse: Warehouse, communes: pd.DataFrame, epci_sirens: pd.Series,
                     variables: pd.Series, amount: pd.Series, com_vintage: int | None,
                     year: int, notes: list[str]) -> list[pd.DataFrame]:
        """``montant_{dotation}`` per EPCI, in every vintage: its communes' grants + its own.

        The grants to an EPCI itself (identified by its SIREN) belong to no commune: they
        are added to the grants to its communes, so that an EPCI's total is complete and
        counts no euro twice. An EPCI is a legal person: its grant stays with its SIREN in
        every vintage where that SIREN is an EPCI; in a vintage where it is not (merged
        since), the grant counts in its département only (noted). The communes' grants
        are carried to each vintage as the indicator engine carries them (the passage
        tables: summed over merged communes, shared over split ones by the weights).

        ``communes`` holds the summed grants per commune of ``com_vintage``:
        ``variable, level, code, value``.
        """
        own = pd.DataFrame({"siren": epci_sirens.to_numpy(object),
                            "variable": variables[epci_sirens.index].to_numpy(object),
                            "value": amount[epci_sirens.index].to_numpy(dtype="float64")})
        own = own[own["siren"].notna()]
        to_communes = (communes[communes["level"] == "COM"].pivot(
            index="code", columns="variable", values="value")
            if len(communes) else pd.DataFrame())
        steps = {(int(a), int(b)): group for (a, b), group in warehouse.query(
            "SELECT from_vintage, from_code, to_vintage, to_code, weight, kind FROM passages"
        ).groupby(["from_vintage", "to_vintage"])}
        observations = []
        unattached: dict[int, pd.DataFrame] = {}
        for vintage in warehouse.vintages():
            in_epci = warehouse.memberships("COM", vintage, ["EPCI"]).drop_duplicates(
                "code").set_index("code")["parent_code"]
            parts = [own.rename(columns={"siren": "code"})]
            if len(to_communes):
                assert com_vintage is not None
                passage = chain(steps, com_vintage, vintage)
                for variable in to_communes.columns:
                    # each dotation on its own: a commune without a grant has no value,
                    # which must not make a merged commune's grants unknown
                    granted = to_communes[variable].dropna()
                    carried = granted if vintage == com_vintage else \
                        convert_counts(granted, passage).values
                    parts.append(pd.DataFrame({
                        "code": carried.index.map(in_epci).to_numpy(object),
                        "variable": variable, "value": carried.to_numpy(dtype="float64")}))
            known = set(warehouse.names("EPCI", vintage))
            held = own["siren"].isin(known).to_numpy()
            unattached[vintage] = own[~held]
            parts[0] = parts[0][held]
            found = pd.concat(parts, ignore_index=True)
            sums = found[found["code"].notna()].groupby(["variable", "code"], sort=True)[
                "value"].sum().reset_index().assign(period=str(year))
            observations.append(_observations(sums, "EPCI", vintage))
        if len(own):
            latest = max(unattached)
            notes.append(counted(len(own), "subvention à un EPCI", "subventions à des EPCI")
                         + f" ({format_euros(float(own['value'].sum()))}) : rattachées à "
                         "leur EPCI (identifié par son SIREN) et comptées dans son total avec "
                         "celles de ses communes")
            for vintage in sorted({com_vintage or latest, latest}):
                missing = unattached[vintage]
                if len(missing):
                    notes.append(counted(len(missing), "subvention", "subventions")
                                 + f" ({format_euros(float(missing['value'].sum()))}) à "
                                 f"{missing['siren'].nunique()} EPCI absent(s) du COG "
                                 f"{vintage} (par exemple {missing['siren'].iloc[0]}) : "
                                 "comptées dans leur département seulement à cette géographie")
        return observations

    def read_table(self, path: Path, options: ImportOptions) -> Table:
        """The sheet of projects (``Projets…`` or ``--option sheet``), header found."""
        sheet = _option(options, "sheet", None)
        head = sheet_head(path, sheet=str(sheet) if sheet is not None else None,
                          prefix="Projets")
        header = head.header_row(("montant_sub", "dotation", "id_projet"))
        table = read_xlsx_table(path, head.sheet, header_row=header or 1)
        table.frame.columns = [c.lower() for c in table.frame.columns]
        require_columns(table, DOTATION_REQUIRED, "les dotations d'investissement")
        return table

    def year_of(self, path: Path, table: Table, options: ImportOptions) -> int:
        """The year of the grants: ``--period``, an ``annee`` column, or the file's name."""
        if options.period is not None:
            text = str(options.period)
        elif "annee" in table.frame.columns:
            years = parse_years(table.frame["annee"].astype(object))
            if years.isna().any() or years.nunique() != 1:
                row = int(np.argmax(years.isna().to_numpy())) if years.isna().any() else 0
                raise table.error("année illisible ou différente d'une ligne à l'autre",
                                  row=row, column="annee",
                                  expected="une même année sur toutes les lignes",
                                  found=table.frame["annee"].iloc[row])
            text = str(years.iloc[0])
        else:
            match = re.search(r"(?<!\d)(20\d{2})(?!\d)", f"{path.stem} {table.sheet or ''}")
            if match is None:
                raise InputFileError(path, "impossible de déterminer l'année des dotations",
                                     expected="l'année dans le nom du fichier, une colonne "
                                     "annee ou l'option --period", found=path.name)
            text = match[1]
        year = parse_years(pd.Series([text], dtype=object)).iloc[0]
        if pd.isna(year):
            raise InputFileError(path, "année illisible", expected="une année (2019)",
                                 found=text)
        return int(year)

    def dispositifs_of(self, table: Table) -> pd.Series:
        """The dispositif of each row (DETR, DSIL, DSID), refusing an unknown one."""
        names = table.frame["dotation"].astype(str).str.strip().str.lower()
        allowed = {d.id for d in DISPOSITIFS.values() if not d.counts_posts}
        bad = (~names.isin(allowed)).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise table.error("dotation inconnue", row=row, column="dotation",
                              expected=" ou ".join(sorted(a.upper() for a in allowed)),
                              found=table.frame["dotation"].iloc[row])
        return names

    def echelons_of(self, table: Table) -> pd.Series:
        """The échelon of each beneficiary (commune, EPCI, département), refusing others."""
        spelt = table.frame["echelon"].astype(str).str.strip().str.lower()
        echelons = spelt.map(ECHELONS)
        bad = echelons.isna().to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise table.error("échelon de bénéficiaire inconnu", row=row, column="echelon",
                              expected="commune, epci ou conseil_departemental",
                              found=table.frame["echelon"].iloc[row])
        return echelons

    @staticmethod
    def _text(frame: pd.DataFrame, column: str) -> pd.Series:
        if column not in frame:
            return pd.Series(None, index=frame.index, dtype=object)
        text = frame[column].astype(str).str.strip()
        return text.where(text != "", None).astype(object)

    def _keys(self, table: Table, lines: pd.DataFrame, kinds: pd.Series,
              year: int) -> list[str]:
        """``{dotation}:{year}:{id_projet}``, or a hash of the content; ids must be unique."""
        if "id_projet" in table.frame.columns:
            ids = table.frame["id_projet"].astype(str).str.strip()
            bad = ids.eq("").to_numpy() | ids.duplicated().to_numpy()
            if bad.any():
                row = int(np.argmax(bad))
                raise table.error("identifiant de projet vide ou en double (sur une ligne au "
                                  "contenu différent)", row=row, column="id_projet",
                                  expected="un identifiant unique par projet",
                                  found=ids.iloc[row])
        else:
            ids = content_key(lines)
        return [funding_key(k, year, i) for k, i in zip(kinds, ids, strict=True)]


def _label(description: object) -> str | None:
    """The first words of a description, at most :data:`LABEL_LENGTH` characters.

    Examples
    --------
    >>> _label("Rénovation de l'école " + "x" * 200)[-12:]
    'xxxxxxxxxxx…'
    >>> _label(None) is None
    True
    """
    if not isinstance(description, str):
        return None
    text = " ".join(description.split())
    return text if len(text) <= LABEL_LENGTH else text[:LABEL_LENGTH - 1] + "…"
