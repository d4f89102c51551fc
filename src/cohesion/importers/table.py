"""The generic indicator-table importer: « importez vos propres données ».

Any table with a territory-code column and one or more value columns becomes
observations (variable × level × code × vintage × period). How to read it is described
by options or by a small YAML *mapping file* (see ``docs/import-your-own-data.md``):

.. code-block:: yaml

    code_column: codgeo
    level: ZE
    vintage: 2010
    variables:
      - column: value0
        period_column: year0
        id: revenu_median
        label: Revenu disponible médian par unité de consommation
        unit: €

Three layouts are read:

- *wide*: one column per variable (and period): ``taux_2008``, ``taux_2013``, INSEE
  names (``P18_POP``), or value/period column pairs (``year0``/``value0``);
- *wide with a period column*: one row per territory and period;
- *long*: one row per territory × variable × period (``variable_column``), or one row
  per territory × variable with value/period column pairs (``variable_column`` and
  ``variables`` without ids: the baromètre 2018's ``baro.csv``).

A table of a single territory (France) has no code column: ``code: FR`` names it. For a
level outside the référentiel (zones d'emploi 2010…), ``name_column`` records the names
of its territories, and the codes of later tables of that level are checked against them.

Territory codes are checked against the référentiel (communes, EPCI, départements,
régions…) or against the territories of a level already in the warehouse (a zoning);
a level the warehouse does not know yet (zones d'emploi ``ZE``) is registered, its
codes checked for their format only. CSV (also gzip-compressed) and XLSX files are read.
"""

from __future__ import annotations

import dataclasses
import difflib
import gzip
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportBatch, Importer, ImportOptions
from cohesion.importers.reading import Table, read_csv_table, read_xlsx_table
from cohesion.indicators.variables import BY_ID, split_insee_column, variable_for_stem
from cohesion.store.schema import MISSING_REASONS
from cohesion.store.warehouse import Warehouse
from cohesion.territory.levels import BUILTIN_LEVELS

# -- the mapping ----------------------------------------------------------------------

#: Levels that may be registered on the fly, with their French label and code format.
KNOWN_LEVELS: dict[str, tuple[str, str]] = {
    "ZE": ("Zone d'emploi", r"\d{4}"),
    "BV": ("Bassin de vie", r"\d[\dAB]\d{3}"),
    "UU": ("Unité urbaine", r"[\dAB]{5}"),
    "AAV": ("Aire d'attraction des villes", r"[\dAB]{3}"),
}

#: Référentiel levels tried, in this order, when the mapping does not name the level.
AUTO_LEVELS = ("COM", "EPCI", "DEP", "REG")

CODE_COLUMNS = ("codgeo", "code_geo", "code_insee", "insee_com", "code_commune", "depcom",
                "siren", "siren_epci", "code_epci", "code_departement", "code_dep",
                "insee_dep", "code_region", "code_reg", "insee_reg", "code_ze", "ze2020",
                "ze2010", "code", "dep", "reg", "com", "epci", "ze")
VARIABLE_COLUMNS = ("id_indicateur", "code_indicateur", "variable", "indicateur")
VALUE_COLUMNS = ("valeur", "value")
LABEL_COLUMNS = ("indicateur", "libelle_indicateur", "label", "libelle")
UNIT_COLUMNS = ("unite", "unit")
PERIOD_COLUMNS = ("date", "periode", "period", "annee", "year")

_PAIR_PERIOD = re.compile(r"^(year|annee|date|periode|period)_?(\d+)$", re.IGNORECASE)
_PAIR_VALUE = re.compile(r"^(value|valeur)_?(\d+)$", re.IGNORECASE)
_YEAR_SUFFIX = re.compile(r"^(?P<stem>.*?[A-Za-z].*?)[_\-. ]?(?P<year>(?:19|20)\d{2})$")
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_LEVEL_ID = re.compile(r"[A-Z][A-Z0-9_]{0,15}")
_VARIABLE_ID = re.compile(r"[a-z][a-z0-9_]*")


def slug(text: str) -> str:
    """A variable id from a column name or an indicator code.

    Examples
    --------
    >>> slug("Taux de pauvreté (%)")
    'taux_de_pauvrete'
    >>> slug("tx-detenus-formation")
    'tx_detenus_formation'
    >>> slug("2019 revenu")
    'v_2019_revenu'
    """
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    return cleaned if cleaned[:1].isalpha() else f"v_{cleaned}"


@dataclass
class VariableSpec:
    """One value column of a wide table.

    Attributes
    ----------
    column : str
        The value column.
    id : str or None
        Variable id (default: from the column name).
    label, unit : str or None
        French label and unit.
    additive : bool or None
        Whether values can be summed over territories (counts): default false, so a rate
        is never summed by mistake.
    period : str or None
        Period of every value of the column.
    period_column : str or None
        Column giving the period of each value (``year0`` for ``value0``).
    """

    column: str
    id: str | None = None
    label: str | None = None
    unit: str | None = None
    additive: bool | None = None
    period: str | None = None
    period_column: str | None = None


@dataclass
class TableMapping:
    """How to read an indicator table; every key of the YAML mapping file is a field.

    See ``docs/import-your-own-data.md`` for the meaning of each key.
    """

    code_column: str | None = None
    code: str | None = None
    name_column: str | None = None
    level: str | None = None
    level_label: str | None = None
    vintage: int | None = None
    check_codes: bool = True
    unknown_codes: str = "error"
    period: str | None = None
    period_column: str | None = None
    variables: list[VariableSpec] = field(default_factory=list)
    variable: str | None = None
    label: str | None = None
    unit: str | None = None
    additive: bool | None = None
    variable_prefix: str = ""
    period_from_name: bool = True
    variable_column: str | None = None
    label_column: str | None = None
    unit_column: str | None = None
    value_column: str | None = None
    separator: str | None = None
    decimal: str = "auto"
    encoding: str | None = None
    sheet: str | None = None
    header_row: int = 1
    missing: dict[str, str] = field(default_factory=dict)
    variable_ids: dict[str, str] = field(default_factory=dict)


_STRING_KEYS = {"code_column", "code", "name_column", "level", "level_label", "period",
                "period_column", "variable", "label", "unit", "variable_prefix",
                "variable_column", "label_column", "unit_column", "value_column", "separator",
                "encoding", "sheet"}
_BOOL_KEYS = {"check_codes", "period_from_name", "additive"}
_INT_KEYS = {"vintage", "header_row"}
_CHOICES = {"unknown_codes": ("error", "drop"), "decimal": ("auto", ".", ",")}
MAPPING_KEYS = _STRING_KEYS | _BOOL_KEYS | _INT_KEYS | set(_CHOICES) | {
    "variables", "value_columns", "missing", "variable_ids", "version"}
VARIABLE_KEYS = {f.name for f in dataclasses.fields(VariableSpec)}


class _Source:
    """Where mapping values come from (a YAML file or the import options), for errors."""

    def __init__(self, path: Path | str, lines: dict[tuple, int] | None = None) -> None:
        self.path = path
        self.lines = lines or {}

    def error(self, key: tuple, message: str, expected: str | None = None,
              found: object = None) -> InputFileError:
        name = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in key).lstrip(".")
        line = self.lines.get(key) or self.lines.get(key[:-1]) if key else None
        return InputFileError(self.path, message, line, name or None, expected,
                              None if found is None else str(found))


def load_mapping_file(path: Path) -> tuple[dict[str, Any], _Source]:
    """Read a YAML mapping file, keeping the line of every key for error messages."""
    if not path.is_file():
        raise InputFileError(path, "fichier de description introuvable")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(path, "le fichier de description n'est pas un texte UTF-8",
                             expected="un fichier YAML en UTF-8") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise InputFileError(path, f"YAML non valide : {problem}",
                             None if mark is None else mark.line + 1) from None
    if data is None:
        raise InputFileError(path, "le fichier de description est vide",
                             expected="des clés comme code_column et variables")
    if not isinstance(data, dict):
        raise InputFileError(path, "la description doit être une suite de lignes 'clé: valeur'", 1,
                             expected="un dictionnaire YAML", found=type(data).__name__)
    lines: dict[tuple, int] = {}

    def walk(current: yaml.Node, key: tuple) -> None:
        lines.setdefault(key, current.start_mark.line + 1)
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                lines[(*key, key_node.value)] = key_node.start_mark.line + 1
                walk(value_node, (*key, key_node.value))
        elif isinstance(current, yaml.SequenceNode):
            for position, item in enumerate(current.value):
                walk(item, (*key, position))

    walk(node, ())
    return data, _Source(path, lines)


def _check_keys(source: _Source, data: dict[str, Any], allowed: set[str],
                key: tuple = ()) -> None:
    for name in data:
        if name not in allowed:
            close = difflib.get_close_matches(str(name), sorted(allowed), n=1)
            hint = f" ; vouliez-vous dire {close[0]!r} ?" if close else ""
            raise source.error((*key, name), f"clé inconnue {name!r}{hint}",
                               expected=", ".join(sorted(allowed)), found=name)


def _scalar(source: _Source, key: tuple, value: Any, kind: str) -> Any:
    """Check the type of one mapping value (YAML reads ``2019`` as a number)."""
    name = key[-1]
    if value is None:
        return None
    if kind == "str":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise source.error(key, f"{name} doit être un texte", expected="un texte",
                               found=value)
        return str(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise source.error(key, f"{name} doit valoir true ou false",
                               expected="true ou false", found=value)
        return value
    if isinstance(value, bool) or not (isinstance(value, int) or (
            isinstance(value, str) and value.strip().isdigit())):
        raise source.error(key, f"{name} doit être un nombre entier", expected="un nombre entier",
                           found=value)
    return int(value)


def _variable_specs(source: _Source, key: str, value: Any) -> list[VariableSpec]:
    """Read ``variables`` (list of entries) or ``value_columns`` (list or mapping)."""
    specs = []
    if key == "value_columns" and isinstance(value, dict):
        value = [{"column": column, **(entry if isinstance(entry, dict) else {"id": entry})}
                 for column, entry in value.items()]
    elif key == "value_columns" and isinstance(value, list):
        value = [entry if isinstance(entry, dict) else {"column": entry} for entry in value]
    if not isinstance(value, list) or not value:
        raise source.error((key,), f"{key} doit être une liste non vide",
                           expected="une liste de colonnes", found=value)
    for position, entry in enumerate(value):
        where = (key, position)
        if not isinstance(entry, dict):
            raise source.error(where, "chaque variable doit être un ensemble de clés (column, id…)",
                               expected="column: NAME", found=entry)
        _check_keys(source, entry, VARIABLE_KEYS, where)
        if entry.get("column") in (None, ""):
            raise source.error(where, "une variable n'a pas de colonne (column)",
                               expected="column: NAME")
        if entry.get("period") is not None and entry.get("period_column") is not None:
            raise source.error((*where, "period"), "indiquez period ou period_column, pas les deux")
        kinds = {"additive": "bool"}
        specs.append(VariableSpec(**{name: _scalar(source, (*where, name), entry.get(name),
                                                   kinds.get(name, "str"))
                                     for name in VARIABLE_KEYS}))
        if specs[-1].id is not None and not _VARIABLE_ID.fullmatch(specs[-1].id):
            raise source.error((*where, "id"), "identifiant de variable non valide",
                               expected="des minuscules, des chiffres et '_', en commençant "
                               "par une lettre", found=specs[-1].id)
    return specs


def parse_mapping(data: dict[str, Any], source: _Source,
                  base: TableMapping | None = None) -> TableMapping:
    """Validate raw mapping values (from YAML or options) on top of ``base``.

    Raises
    ------
    InputFileError
        Naming the mapping file, the line and the key of the first problem.
    """
    _check_keys(source, data, MAPPING_KEYS)
    mapping = dataclasses.replace(base) if base is not None else TableMapping()
    for key, value in data.items():
        where = (key,)
        if key == "version":
            if value != 1:
                raise source.error(where, "version de description non prise en charge",
                                   expected="1", found=value)
        elif key in _STRING_KEYS:
            setattr(mapping, key, _scalar(source, where, value, "str"))
        elif key in _BOOL_KEYS:
            setattr(mapping, key, _scalar(source, where, value, "bool"))
        elif key in _INT_KEYS:
            setattr(mapping, key, _scalar(source, where, value, "int"))
        elif key in _CHOICES:
            text = _scalar(source, where, value, "str")
            if text not in _CHOICES[key]:
                raise source.error(where, f"{key} doit valoir {' ou '.join(_CHOICES[key])}",
                                   expected=" ou ".join(_CHOICES[key]), found=value)
            setattr(mapping, key, text)
        elif key in ("variables", "value_columns"):
            mapping.variables = _variable_specs(source, key, value)
        elif key == "missing":
            if isinstance(value, list):
                value = dict.fromkeys(value, "not_available")
            if not isinstance(value, dict):
                raise source.error(where, "missing doit lister les marqueurs de valeurs manquantes",
                                   expected="une liste comme ['NA', '-'] ou des lignes "
                                   "marqueur: motif",
                                   found=value)
            mapping.missing = {str(k): str(v) for k, v in value.items()}
        elif key == "variable_ids":
            if not isinstance(value, dict) or not value:
                raise source.error(where, "variable_ids doit donner l'identifiant de chaque "
                                   "code de variable",
                                   expected="des lignes code: id, comme '11: revenu'",
                                   found=value)
            for code, given in value.items():
                if not isinstance(given, str) or not _VARIABLE_ID.fullmatch(given):
                    raise source.error((*where, code), "identifiant de variable non valide",
                                       expected="des minuscules, des chiffres et '_', "
                                       "en commençant par une lettre", found=given)
            mapping.variable_ids = {str(k): v for k, v in value.items()}
    if "variables" in data and "value_columns" in data:
        raise source.error(("value_columns",), "indiquez variables ou value_columns, pas les deux")
    if mapping.period is not None and mapping.period_column is not None:
        raise source.error(("period",), "indiquez period ou period_column, pas les deux")
    if mapping.variable_column is not None and (
            mapping.variable or any(spec.id for spec in mapping.variables)):
        raise source.error(("variable_column",), "une table longue (variable_column) prend ses "
                           "variables dans cette colonne : retirez variable et les id de "
                           "variables/value_columns (variable_ids sert à les renommer)")
    if mapping.variable_column is not None and mapping.variables and (
            mapping.value_column is not None):
        raise source.error(("value_column",), "indiquez value_column ou des paires valeur/période "
                           "(variables), pas les deux")
    if mapping.code is not None and mapping.code_column is not None:
        raise source.error(("code",), "indiquez code (un même territoire pour toutes les "
                           "lignes) ou code_column, pas les deux")
    if mapping.level is not None:
        mapping.level = mapping.level.upper()
        if not _LEVEL_ID.fullmatch(mapping.level):
            raise source.error(("level",), "identifiant d'échelon non valide",
                               expected="par exemple COM, EPCI, DEP, REG ou ZE",
                               found=mapping.level)
    for key in ("variable",):
        value = getattr(mapping, key)
        if value is not None and not _VARIABLE_ID.fullmatch(value):
            raise source.error((key,), "identifiant de variable non valide", expected="des "
                               "minuscules, des chiffres et '_', en commençant par une lettre",
                               found=value)
    if mapping.separator is not None and len(mapping.separator) != 1:
        raise source.error(("separator",), "le séparateur est un seul caractère",
                           expected="';', ',', une tabulation ou '|'", found=mapping.separator)
    if mapping.header_row < 1:
        raise source.error(("header_row",), "header_row se compte à partir de 1",
                           expected="1 ou plus", found=mapping.header_row)
    return mapping


def mapping_from_options(options: ImportOptions) -> TableMapping:
    """The mapping file (``extra['mapping']``) overridden by the other options."""
    extra = dict(options.extra)
    mapping = TableMapping()
    path = extra.pop("mapping", None)
    if path is not None:
        data, source = load_mapping_file(Path(path))
        mapping = parse_mapping(data, source)
    for key, value in (("vintage", options.vintage), ("period", options.period)):
        if value is not None and key not in extra:
            extra[key] = value
    if extra:
        mapping = parse_mapping(extra, _Source("options d'import"), mapping)
    return mapping


# -- reading the table ----------------------------------------------------------------


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def read_data_table(path: Path, mapping: TableMapping) -> Table:
    """Read a CSV (plain or gzip) or XLSX table; errors name the original file.

    A gzip file is decompressed to a temporary file first, so that every check of
    :func:`~cohesion.importers.reading.read_csv_table` (encoding, separator, short rows)
    applies unchanged.
    """
    if not path.is_file():
        raise InputFileError(path, "fichier introuvable")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in {".xlsx", ".xlsm"}:
        return read_xlsx_table(path, mapping.sheet or 0,  # type: ignore[arg-type]
                               mapping.header_row)
    if path.stat().st_size and _is_gzip(path):
        with tempfile.TemporaryDirectory() as folder:
            plain = Path(folder) / path.name.removesuffix(".gz")
            try:
                with gzip.open(path, "rb") as source, plain.open("wb") as target:
                    shutil.copyfileobj(source, target, 1 << 22)
            except (OSError, EOFError) as error:
                raise InputFileError(path, f"impossible de décompresser le fichier ({error})",
                                     expected="un fichier gzip complet") from None
            try:
                table = read_csv_table(plain, mapping.separator, mapping.encoding)
            except InputFileError as error:
                raise dataclasses.replace(error, path=path) from None
    else:
        table = read_csv_table(path, mapping.separator, mapping.encoding)
    table.path = path
    return table


def _column(table: Table, name: str | None, candidates: tuple[str, ...], what: str,
            required: bool = False, key: str | None = None) -> str | None:
    """The column named in the mapping (checked to exist) or the first known candidate."""
    columns = list(table.frame.columns)
    if name is not None:
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            hint = f" (vouliez-vous dire {close[0]!r} ?)" if close else ""
            raise table.error(f"aucune colonne {name!r} pour {what}{hint}", row=-1, column=name,
                              expected=f"une colonne du fichier ({key or what})",
                              found=", ".join(columns[:12]))
        return name
    lowered = {column.lower(): column for column in columns}
    found = next((lowered[c] for c in candidates if c in lowered), None)
    if found is None and required:
        raise table.error(f"impossible de trouver la colonne donnant {what}", row=-1,
                          expected=f"une colonne nommée {' ou '.join(candidates[:4])}, ou la "
                          f"clé {key} de la description", found=", ".join(columns[:12]))
    return found


def parse_values(table: Table, column: str, decimal: str,
                 markers: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Parse a value column: numbers, or missing markers kept with their reason.

    Spaces (also non-breaking, as French thousands separators) are ignored. With
    ``decimal`` ``auto`` a comma or a point is the decimal mark, and a number holding
    both is refused as ambiguous; with ``.`` or ``,`` the other one is refused.

    Returns
    -------
    values : ndarray of float
        NaN where missing.
    reasons : ndarray of object
        None where a value is present, else the reason (``secret``, ``not_available``,
        ``empty`` or one given in the mapping).
    """
    # Arrow compute kernels: national files have millions of cells
    cells = pc.fill_null(pa.array(table.frame[column], type=pa.string(), from_pandas=True), "")
    raw = pc.utf8_trim_whitespace(cells)
    lowered = pc.utf8_lower(raw)
    keys = list(markers)
    found = pc.index_in(lowered, value_set=pa.array(keys, type=pa.string()))
    reason = pc.take(pa.array(list(markers.values()), type=pa.string()), found)
    present = pc.is_null(reason).to_numpy(zero_copy_only=False)
    text = pc.replace_substring_regex(raw, r"[\s\x{00a0}\x{202f}]", "")

    def refuse(bad: np.ndarray, message: str, expected: str) -> None:
        bad = bad & present
        if bad.any():
            row = int(np.argmax(bad))
            raise table.error(message, row=row, column=column, expected=expected,
                              found=raw[row].as_py())

    has_point = pc.match_substring(text, ".").to_numpy(zero_copy_only=False)
    has_comma = pc.match_substring(text, ",").to_numpy(zero_copy_only=False)
    if decimal == "auto":
        refuse(has_point & has_comma, "nombre ambigu : il contient à la fois ',' et '.'",
               "un seul séparateur décimal (précisez lequel avec la clé decimal)")
    else:
        other = "," if decimal == "." else "."
        refuse(has_comma if other == "," else has_point,
               f"un nombre avec {other!r} alors que le séparateur décimal est {decimal!r}",
               f"des nombres comme 12{decimal}5")
    text = pc.replace_substring(text, ",", ".")
    number = pc.match_substring_regex(text, f"^{_NUMBER}$").to_numpy(zero_copy_only=False)
    shown = ", ".join(repr(m) for m in markers if m)
    refuse(~number, "valeur non numérique", f"un nombre, {shown} ou une cellule vide")
    values = pc.cast(pc.if_else(pa.array(number), text, pa.scalar(None, pa.string())),
                     pa.float64()).to_numpy(zero_copy_only=False)
    return values.astype(np.float64), np.array(reason.to_pylist(), dtype=object)


# -- territories ----------------------------------------------------------------------


@dataclass
class Territories:
    """The level, vintage and per-row level of a table's codes."""

    level: str
    vintage: int
    row_levels: np.ndarray
    keep: np.ndarray
    new_level: pd.DataFrame | None = None


def _score_vintages(warehouse: Warehouse, codes: np.ndarray, levels: list[str],
                    vintages: list[int]) -> pd.DataFrame:
    """For each vintage, codes unknown and territories of the levels absent from the file."""
    frame = pd.DataFrame({"code": pd.unique(codes).astype(object)})
    warehouse.connection.register("_table_codes", frame)
    try:
        return warehouse.query(
            """WITH known AS (SELECT DISTINCT vintage, code FROM territories
                              WHERE list_contains(?, level) AND list_contains(?, vintage))
               SELECT v.vintage,
                      (SELECT count(*) FROM _table_codes c WHERE NOT EXISTS (
                          SELECT 1 FROM known k WHERE k.vintage = v.vintage
                          AND k.code = c.code)) AS unknown,
                      (SELECT count(*) FROM known k WHERE k.vintage = v.vintage
                       AND k.code NOT IN (SELECT code FROM _table_codes)) AS absent
               FROM (SELECT unnest(?) AS vintage) v""", [levels, vintages, vintages])
    finally:
        warehouse.connection.unregister("_table_codes")


def resolve_territories(table: Table, column: str, codes: pd.Series, mapping: TableMapping,
                        warehouse: Warehouse, notes: list[str]) -> Territories:
    """Find the level and vintage of the codes and check every code.

    Raises
    ------
    InputFileError
        At the first unknown code (in the vintage that knows the most codes), unless
        ``unknown_codes`` is ``drop``; when the level cannot be told from the codes.
    """
    values = codes.to_numpy(dtype=object)
    level = mapping.level
    if level is None:
        level = _guess_level(table, column, codes, warehouse)
        notes.append(f"échelon {level} reconnu d'après les codes")
    family = ["COM", "ARM"] if level == "COM" else [level]
    vintages = [int(v) for v in warehouse.query(
        "SELECT DISTINCT vintage FROM territories WHERE list_contains(?, level) ORDER BY 1",
        [family])["vintage"]]
    new_level = None
    known_level = not warehouse.query("SELECT 1 FROM levels WHERE level = ?", [level]).empty
    if not known_level:
        if level not in KNOWN_LEVELS and mapping.level_label is None:
            raise table.error(f"échelon inconnu {level!r}", row=-1, column=column,
                              expected="un échelon de l'entrepôt (COM, EPCI, DEP, REG, un "
                              f"zonage…), l'un de {', '.join(KNOWN_LEVELS)}, ou un nouvel "
                              "échelon avec son level_label", found=level)
        label = mapping.level_label or KNOWN_LEVELS[level][0]
        new_level = pd.DataFrame({"level": [level], "label": [label], "kind": ["zoning"],
                                  "description": [None]})
    pattern = BUILTIN_LEVELS[level].code_pattern if level in BUILTIN_LEVELS else (
        KNOWN_LEVELS[level][1] if level in KNOWN_LEVELS else r"\S+")
    keep = np.ones(len(values), dtype=bool)
    if not vintages or (mapping.vintage is not None and mapping.vintage not in vintages):
        if vintages and mapping.check_codes:
            raise table.error(
                f"l'entrepôt n'a pas de territoires d'échelon {level} en {mapping.vintage} "
                f"(il a {', '.join(map(str, vintages))}) : pour charger sans vérification des "
                "codes d'une autre géographie, indiquez check_codes: false", row=-1, column=column,
                expected=f"vintage {' ou '.join(map(str, vintages))}",
                found=str(mapping.vintage))
        if mapping.vintage is None:
            raise table.error(
                f"l'entrepôt n'a pas de territoires d'échelon {level} : indiquez la géographie "
                "des codes avec la clé vintage (par exemple 2020 pour les "
                "zones d'emploi 2020)", row=-1, column=column, expected="vintage: ANNÉE")
        bad = ~codes.str.fullmatch(pattern).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise table.error(f"code d'échelon {level} mal formé", row=row, column=column,
                              expected=f"des codes de la forme {pattern}", found=values[row])
        notes.append(f"codes d'échelon {level} ({mapping.vintage}) vérifiés sur leur format "
                     "seulement : l'entrepôt n'a pas de territoires pour les contrôler")
        row_levels = np.full(len(values), level, dtype=object)
        return Territories(level, mapping.vintage, row_levels, keep, new_level)

    candidates = [mapping.vintage] if mapping.vintage is not None else vintages
    scores = _score_vintages(warehouse, values, family, candidates)
    scores = scores.assign(latest=-scores["vintage"]).sort_values(
        ["unknown", "absent", "latest"])
    vintage = int(scores["vintage"].iloc[0])
    known = warehouse.query(
        "SELECT code, level FROM territories WHERE vintage = ? AND list_contains(?, level)",
        [vintage, family])
    known = known.sort_values("level", key=lambda s: s.map(family.index)).drop_duplicates(
        "code")
    row_levels = codes.astype(object).map(dict(zip(known["code"], known["level"],
                                                   strict=True))).to_numpy(object)
    unknown = pd.isna(row_levels)
    if unknown.any():
        if mapping.unknown_codes != "drop":
            row = int(np.argmax(unknown))
            raise table.error(
                f"code de territoire inconnu ({int(unknown.sum())} lignes avec des codes inconnus "
                f"parmi les {level} de {vintage}, la géographie la plus proche)", row=row,
                column=column,
                expected=f"un code d'échelon {level} en {vintage} (ou unknown_codes: drop)",
                found=values[row])
        examples = ", ".join(pd.unique(values[unknown])[:5])
        notes.append(f"{int(unknown.sum())} lignes dont le code est inconnu parmi les {level} de "
                     f"{vintage} ont été écartées (unknown_codes: drop) : {examples}")
        keep = ~unknown
    return Territories(level, vintage, row_levels, keep, new_level)


def _guess_level(table: Table, column: str, codes: pd.Series, warehouse: Warehouse) -> str:
    """The référentiel level whose code format fits every code and that knows most."""
    fits = [level for level in AUTO_LEVELS
            if codes.str.fullmatch(BUILTIN_LEVELS[level].code_pattern).all()]
    vintages = warehouse.vintages()
    best: tuple[int, str] | None = None
    for level in fits:
        family = ["COM", "ARM"] if level == "COM" else [level]
        unknown = int(_score_vintages(warehouse, codes.to_numpy(object), family,
                                      vintages)["unknown"].min()) if vintages else len(codes)
        if best is None or unknown < best[0]:
            best = (unknown, level)
    if best is not None and best[0] == 0:
        return best[1]
    if codes.str.fullmatch(KNOWN_LEVELS["ZE"][1]).all():
        return "ZE"
    if best is not None:
        return best[1]
    raise table.error("impossible de déterminer l'échelon des codes de territoire", row=0,
                      column=column,
                      expected="des codes de commune, d'EPCI, de département ou de région, ou la "
                      "clé level", found=codes.iloc[0])


# -- observations ---------------------------------------------------------------------


def _auto_specs(table: Table, used: set[str]) -> list[VariableSpec]:
    """Value columns found without a mapping: value/period pairs or year-suffixed names."""
    columns = [c for c in table.frame.columns if c not in used]
    periods = {m[2]: c for c in columns if (m := _PAIR_PERIOD.match(c))}
    pairs = [VariableSpec(c, period_column=periods[m[2]]) for c in columns
             if (m := _PAIR_VALUE.match(c)) and m[2] in periods]
    if pairs:
        return pairs
    return [VariableSpec(c) for c in columns if _period_from_name(c) is not None]


def _period_from_name(column: str) -> tuple[str, str, bool] | None:
    """(variable id, period, is INSEE) from ``taux_2008`` or INSEE's ``P18_POP``."""
    if match := _YEAR_SUFFIX.match(column):
        return slug(match["stem"]), match["year"], False
    if column == column.upper() and (split := split_insee_column(column)) is not None:
        return variable_for_stem(split[0])[0], split[1], True
    return None


def _wide_observations(table: Table, mapping: TableMapping, specs: list[VariableSpec],
                       markers: dict[str, str], default_variable: str,
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Melt the value columns into (row, variable, period, value, missing)."""
    parts = []
    described: dict[str, tuple] = {}
    frame = table.frame
    for spec in specs:
        _column(table, spec.column, (), f"les valeurs de {spec.column}", key="column")
        from_name = _period_from_name(spec.column) if mapping.period_from_name else None
        insee = False
        named = False
        values, reasons = parse_values(table, spec.column, mapping.decimal, markers)
        rows = np.arange(len(frame), dtype=np.int64)
        if spec.period is not None:
            period: Any = spec.period
        elif spec.period_column is not None or mapping.period_column is not None:
            period_column = spec.period_column or mapping.period_column
            _column(table, period_column, (), "la période", key="period_column")
            period = frame[period_column].astype(str).str.strip().to_numpy(object)
            empty = period == ""
            # a pair left empty (no first date for this indicator) holds no observation;
            # a value without its period is an error
            if (empty & ~np.isnan(values)).any():
                row = int(np.argmax(empty & ~np.isnan(values)))
                raise table.error("période absente", row=row, column=period_column,
                                  expected="une période comme 2019 ou 2021-06-30", found="")
            if empty.all():
                continue
            period, values, reasons, rows = (period[~empty], values[~empty],
                                             reasons[~empty], rows[~empty])
        elif from_name is not None:
            period, insee, named = from_name[1], from_name[2], True
        elif mapping.period is not None:
            period = mapping.period
        else:
            raise table.error(f"aucune période pour les valeurs de {spec.column}", row=-1,
                              column=spec.column, expected="une année dans le nom de la colonne "
                              "(taux_2019), ou la clé period ou period_column")
        # value0/year0, value1/year1 are one variable at two dates: named after the file
        variable = (spec.id or mapping.variable or (from_name[0] if named else None)
                    or (default_variable if spec.period_column is not None else None)
                    or slug(spec.column))
        variable = mapping.variable_prefix + variable
        parts.append(pd.DataFrame({"row": rows,
                                   "variable": variable, "period": period,
                                   "value": values, "missing": reasons}))
        base = BY_ID.get(variable)
        label = spec.label or mapping.label or (base.label if base and insee else None)
        unit = spec.unit or mapping.unit or (base.unit if base and insee else None)
        additive = spec.additive if spec.additive is not None else (
            mapping.additive if mapping.additive is not None else (
                base.additive if base and insee else False))
        previous = described.get(variable)
        described[variable] = (variable, label or (previous[1] if previous else None),
                               unit or (previous[2] if previous else None), bool(additive),
                               spec.column if previous is None else previous[4])
    if not parts:
        raise table.error("toutes les colonnes de valeurs sont vides et sans période", row=-1,
                          column=specs[0].column, expected="au moins une valeur avec sa "
                          "période")
    variables = pd.DataFrame(list(described.values()),
                             columns=["variable", "label", "unit", "additive", "source_column"])
    return pd.concat(parts, ignore_index=True), variables


def _long_observations(table: Table, mapping: TableMapping, markers: dict[str, str],
                       notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Observations of a long table: one row per territory × variable × period."""
    frame = table.frame
    variable_column = _column(table, mapping.variable_column, VARIABLE_COLUMNS,
                              "la variable", True, "variable_column")
    assert variable_column is not None
    if mapping.variables:
        return _long_pair_observations(table, mapping, variable_column, markers)
    value_column = _column(table, mapping.value_column, VALUE_COLUMNS, "les valeurs", True,
                           "value_column")
    assert value_column is not None
    label_column = _column(table, mapping.label_column, tuple(
        c for c in LABEL_COLUMNS if c != variable_column.lower()), "les libellés")
    unit_column = _column(table, mapping.unit_column, UNIT_COLUMNS, "les unités")
    raw = frame[variable_column].astype(str).str.strip()
    if (raw == "").any():
        row = int(np.argmax((raw == "").to_numpy()))
        raise table.error("variable absente", row=row, column=variable_column,
                          expected="un code de variable", found="")
    ids = raw.map(_variable_ids(mapping, pd.unique(raw)))
    if mapping.period_column is not None or mapping.period is None:
        period_column = _column(table, mapping.period_column, PERIOD_COLUMNS, "la période",
                                mapping.period is None, "period_column")
        period = frame[period_column].astype(str).str.strip().to_numpy(object)
        if (period == "").any():
            row = int(np.argmax(period == ""))
            raise table.error("période absente", row=row, column=period_column,
                              expected="une période comme 2019 ou 2021-06-30", found="")
    else:
        period = mapping.period
    values, reasons = parse_values(table, value_column, mapping.decimal, markers)
    observations = pd.DataFrame({"row": np.arange(len(frame), dtype=np.int64),
                                 "variable": ids.to_numpy(object), "period": period,
                                 "value": values, "missing": reasons})
    described = pd.DataFrame({"variable": ids.to_numpy(object), "source_column": raw})
    for name, column in (("label", label_column), ("unit", unit_column)):
        described[name] = frame[column].astype(str).str.strip() if column else None
    several = described.groupby("variable")["label"].nunique() if label_column else None
    described = described.drop_duplicates("variable")
    if several is not None and (several > 1).any():
        notes.append(f"{int((several > 1).sum())} variables ont plusieurs libellés dans le "
                     f"fichier (le premier est retenu), par exemple "
                     f"{several[several > 1].index[0]}")
    described["additive"] = bool(mapping.additive) if mapping.additive is not None else False
    return observations, described[["variable", "label", "unit", "additive", "source_column"]]


def _territory_names(table: Table, mapping: TableMapping, codes: pd.Series,
                     territories: Territories, warehouse: Warehouse,
                     notes: list[str]) -> pd.DataFrame:
    """Territories of a level outside the référentiel, named by ``name_column``.

    Only the codes the warehouse does not know yet at this level and vintage are added,
    so that several tables of the same zones may name them.
    """
    from cohesion.territory.names import search_key

    level = territories.level
    if level in BUILTIN_LEVELS:
        raise table.error(f"name_column nomme les territoires d'un échelon hors du "
                          f"référentiel ; les territoires {level} viennent du référentiel",
                          row=-1, column=mapping.name_column,
                          expected="un échelon de zonage comme ZE, ou pas de name_column",
                          found=level)
    column = _column(table, mapping.name_column, (), "les noms des territoires",
                     key="name_column")
    names = table.frame[column].astype(str).str.strip()
    frame = pd.DataFrame({"code": codes.to_numpy(object), "name": names.to_numpy(object),
                          "row": np.arange(len(codes))})[territories.keep]
    empty = frame["name"] == ""
    if empty.any():
        raise table.error("nom de territoire absent", row=int(frame["row"][empty].iloc[0]),
                          column=column, expected="un nom pour chaque territoire", found="")
    several = frame.groupby("code")["name"].nunique()
    if (several > 1).any():
        code = several[several > 1].index[0]
        row = int(frame.loc[frame["code"] == code, "row"].iloc[1])
        raise table.error(f"deux noms pour le territoire {code}", row=row, column=column,
                          expected="un seul nom par code de territoire",
                          found=frame.loc[frame["code"] == code, "name"].iloc[1])
    frame = frame.drop_duplicates("code")
    known = set(warehouse.query(
        "SELECT code FROM territories WHERE level = ? AND vintage = ?",
        [level, territories.vintage])["code"])
    frame = frame[~frame["code"].isin(known)]
    if len(frame):
        notes.append(f"{len(frame)} territoires d'échelon {level} ({territories.vintage}) "
                     "nommés d'après le fichier")
    return pd.DataFrame({"level": level, "code": frame["code"].to_numpy(object),
                         "vintage": territories.vintage, "name": frame["name"].to_numpy(object),
                         "search_name": [search_key(n) for n in frame["name"]]})


def _variable_ids(mapping: TableMapping, codes: Any) -> dict[str, str]:
    """Variable id of each code of a long table: ``variable_ids``, else prefix + slug.

    With a prefix, a code starting with a digit (``11``) needs no ``v_`` of its own.
    """
    ids = {}
    for code in codes:
        if code in mapping.variable_ids:
            ids[code] = mapping.variable_ids[code]
        elif mapping.variable_prefix and slug(code).startswith("v_"):
            ids[code] = mapping.variable_prefix + slug(code)[2:]
        else:
            ids[code] = mapping.variable_prefix + slug(code)
    return ids


def _long_pair_observations(table: Table, mapping: TableMapping, variable_column: str,
                            markers: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A long table whose rows give one variable at several dates (value/period pairs)."""
    frame = table.frame
    raw = frame[variable_column].astype(str).str.strip()
    if (raw == "").any():
        row = int(np.argmax((raw == "").to_numpy()))
        raise table.error("variable absente", row=row, column=variable_column,
                          expected="un code de variable", found="")
    ids = raw.map(_variable_ids(mapping, pd.unique(raw))).to_numpy(object)
    parts = []
    for spec in mapping.variables:
        _column(table, spec.column, (), f"les valeurs de {spec.column}", key="column")
        values, reasons = parse_values(table, spec.column, mapping.decimal, markers)
        if spec.period is not None or mapping.period is not None:
            period: Any = np.full(len(frame), spec.period or mapping.period, dtype=object)
        else:
            period_column = spec.period_column or mapping.period_column
            if period_column is None:
                raise table.error(f"aucune période pour les valeurs de {spec.column}", row=-1,
                                  column=spec.column, expected="period_column ou period "
                                  "pour chaque paire de variables")
            _column(table, period_column, (), "la période", key="period_column")
            period = frame[period_column].astype(str).str.strip().to_numpy(object)
        # a pair without a period (no first date for an indicator) has no value either
        empty = (period == "") | (period == "nan")
        if (empty & ~np.isnan(values)).any():
            row = int(np.argmax(empty & ~np.isnan(values)))
            raise table.error("une valeur sans période", row=row, column=spec.column,
                              expected="une période à côté de chaque valeur",
                              found=str(values[row]))
        parts.append(pd.DataFrame({"row": np.arange(len(frame), dtype=np.int64)[~empty],
                                   "variable": ids[~empty], "period": period[~empty],
                                   "value": values[~empty], "missing": reasons[~empty]}))
    described = pd.DataFrame({"variable": ids, "source_column": raw.to_numpy(object)})
    described = described.drop_duplicates("variable").assign(
        label=None, unit=mapping.unit, additive=bool(mapping.additive))
    return (pd.concat(parts, ignore_index=True),
            described[["variable", "label", "unit", "additive", "source_column"]])


def _drop_duplicates(table: Table, observations: pd.DataFrame, column: str,
                     notes: list[str]) -> pd.DataFrame:
    """Keep identical repeated values once; refuse a key given two different values."""
    key = ["variable", "code", "period"]
    repeated = observations.duplicated(key, keep=False)
    if not repeated.any():
        return observations
    group = observations[repeated]
    signature = group["value"].astype(str) + "|" + group["missing"].astype(str)
    differing = signature.groupby([group[k] for k in key]).transform("nunique") > 1
    if differing.any():
        conflicting = group[differing].sort_values("row")
        same = (conflicting[key] == conflicting[key].iloc[0]).all(axis=1)
        first = conflicting[same.to_numpy()].iloc[1]
        raise table.error(
            f"deux valeurs différentes pour {first['variable']}, territoire {first['code']}, "
            f"période {first['period']}", row=int(first["row"]), column=column,
            expected="une seule valeur par territoire, variable et période",
            found=f"{int(differing.sum())} lignes en conflit")
    removed = int(observations.duplicated(key).sum())
    notes.append(f"{removed} lignes répétant une valeur déjà donnée (même territoire, "
                 "variable, période et valeur) conservées une seule fois")
    return observations[~observations.duplicated(key)]


class IndicatorTable(Importer):
    """Any indicator table, described by a mapping (``docs/import-your-own-data.md``).

    Options (``options.extra``): ``mapping`` (path of a YAML mapping file) and any key of
    the mapping, which then overrides the file. ``options.vintage`` and
    ``options.period`` are the ``vintage`` and ``period`` keys.
    """

    name = "table"
    title = "Table d'indicateurs"
    producer = "fourni par l'utilisateur"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        mapping = mapping_from_options(options)
        table = read_data_table(path, mapping)
        if table.frame.empty:
            raise table.error("la table a un en-tête mais aucune ligne de données", row=0,
                              expected="une ligne par territoire", found="aucune ligne")
        notes: list[str] = []
        if mapping.code is not None:
            # one territory for the whole table (France): a column holding its code
            code_column = "code (mapping)"
            codes = pd.Series([mapping.code] * len(table.frame), dtype=object)
            table.frame[code_column] = codes.to_numpy(object)
        else:
            code_column = _column(table, mapping.code_column, CODE_COLUMNS,
                                  "le code du territoire", True, "code_column")
            assert code_column is not None
            codes = table.frame[code_column].astype(str).str.strip()
        if (codes == "").any():
            row = int(np.argmax((codes == "").to_numpy()))
            raise table.error("code de territoire absent", row=row, column=code_column,
                              expected="un code de territoire", found="")
        markers = {**MISSING_REASONS, **{k.strip().lower(): v for k, v in
                                        mapping.missing.items()}}
        long = mapping.variable_column is not None or (
            not mapping.variables and mapping.variable is None
            and _column(table, None, VARIABLE_COLUMNS, "") is not None
            and _column(table, None, VALUE_COLUMNS, "") is not None)
        if long:
            observations, variables = _long_observations(table, mapping, markers, notes)
            value_column = mapping.value_column or _column(table, None, VALUE_COLUMNS, "")
        else:
            used = {code_column, mapping.period_column, mapping.name_column}
            remaining = [c for c in table.frame.columns if c not in used]
            # a lone value column needs no naming once its period is known
            lone = len(remaining) == 1 and (mapping.period is not None
                                            or mapping.period_column is not None)
            specs = mapping.variables or _auto_specs(table, used) or (
                [VariableSpec(remaining[0])] if lone else [])
            if not specs:
                raise table.error("impossible de déterminer les colonnes de valeurs", row=-1,
                                  expected="des colonnes avec une année dans leur nom (taux_2019), "
                                  "des paires valeur/année, ou la clé value_columns",
                                  found=", ".join(table.frame.columns[:12]))
            observations, variables = _wide_observations(
                table, mapping, specs, markers, slug(path.name.split(".")[0]))
            value_column = specs[0].column
        territories = resolve_territories(table, code_column, codes, mapping, warehouse,
                                          notes)
        rows = observations["row"].to_numpy()
        observations = observations.assign(
            code=codes.to_numpy(object)[rows], level=territories.row_levels[rows],
            vintage=territories.vintage)
        observations = observations[territories.keep[rows]]
        observations = _drop_duplicates(table, observations, value_column or code_column,
                                        notes)
        periods = sorted(pd.unique(observations["period"].astype(str)))
        missing = int(observations["missing"].notna().sum())
        if missing:
            counts = observations["missing"].value_counts()
            notes.append(f"{missing} valeurs manquantes conservées avec leur motif ("
                         + ", ".join(f"{reason}: {n}" for reason, n in counts.items()) + ")")
        notes.insert(0, f"{len(observations)} valeurs de {observations['variable'].nunique()} "
                        f"variables, échelon {territories.level}, géographie "
                        f"{territories.vintage}")
        tables = {} if territories.new_level is None else {"levels": territories.new_level}
        if mapping.name_column is not None:
            named = _territory_names(table, mapping, codes, territories, warehouse, notes)
            if not named.empty:
                tables["territories"] = named
        return ImportBatch(
            observations=observations[["variable", "level", "code", "vintage", "period",
                                       "value", "missing"]].reset_index(drop=True),
            variables=variables, tables=tables, vintage=territories.vintage,
            periods=[str(p) for p in periods], rows=len(table.frame), notes=notes)
