"""The mapping of the indicator-table importer: how to read a table, and its checks.

A mapping is what ``docs/import-your-own-data.md`` describes: the keys of a small YAML
*mapping file* (:func:`load_mapping_file`), overridden by import options
(:func:`mapping_from_options`), checked by :func:`parse_mapping` into a
:class:`TableMapping`. Every error names the mapping file, the line and the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportOptions, Provenance
from cohesion.yaml_files import parse_yaml

_LEVEL_ID = re.compile(r"[A-Z][A-Z0-9_]{0,15}")
_VARIABLE_ID = re.compile(r"[a-z][a-z0-9_]*")


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
    title: str | None = None
    producer: str | None = None
    licence: str | None = None

    def provenance(self) -> Provenance:
        """What the mapping says of the file (recorded with the dataset, credited)."""
        return Provenance(self.title, self.producer, self.licence)


_STRING_KEYS = {"code_column", "code", "name_column", "level", "level_label", "period",
                "period_column", "variable", "label", "unit", "variable_prefix",
                "variable_column", "label_column", "unit_column", "value_column", "separator",
                "encoding", "sheet", "title", "producer", "licence"}
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
    data, lines = parse_yaml(path, text)
    if data is None:
        raise InputFileError(path, "le fichier de description est vide",
                             expected="des clés comme code_column et variables")
    if not isinstance(data, dict):
        raise InputFileError(path, "la description doit être une suite de lignes 'clé: valeur'", 1,
                             expected="un dictionnaire YAML", found=type(data).__name__)
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
