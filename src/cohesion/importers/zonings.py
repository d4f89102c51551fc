"""Importer of zonings: national programmes and study zonings defined by lists of communes.

A *zoning* (Action cœur de ville, Petites villes de demain, France Services, Territoires
d'industrie, contrats de ville, grille communale de densité, typologie des ruralités…)
becomes a new geographic level of kind ``zoning``; each of its zones becomes a territory
of that level, and each commune in a zone a membership commune → zone. A commune may
belong to several zones of one zoning (two France Services in one town); in a typology
(grille de densité) it belongs to exactly one class.

Files come in three shapes, all handled by :class:`ZoningImporter`:

- one feature per zone with a list of members ``"Name (code); Name (code)"`` (ANCT
  « carte des programmes »: ``liste_geo``), members being communes (INSEE code),
  EPCI or EPT (SIREN) or communes given by their SIREN;
- one row per (zone, member) with a member code column (PVD list, contrats de ville
  with their EPCI SIREN);
- one row per commune with its class (grilles de densité, de ruralité, de centralité):
  each class is a zone.

Members that are EPCI or EPT are replaced by their communes in the geography vintage of
the file, which is detected from the codes like
:func:`~cohesion.importers.base.resolve_codes` does (or given). A code unknown in that
vintage but listed as a former code of a commune is mapped to the commune (and noted);
any other unknown code is a located error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportBatch, Importer, ImportOptions, check_options
from cohesion.importers.qpv import read_vector, text_column
from cohesion.importers.reading import read_table
from cohesion.store.warehouse import Warehouse
from cohesion.territory.levels import BUILTIN_LEVELS
from cohesion.territory.names import search_key

VECTOR_SUFFIXES = {".geojson", ".json", ".topojson", ".shp", ".zip", ".gpkg", ".fgb"}
LEVEL_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{0,15}")

ZONE_COLUMNS = ("id_territoire", "id_zone", "code_zone", "code_cv", "id_pvd", "id")
NAME_COLUMNS = ("lib_territoire", "lib_zone", "nom_zone", "lib_cv", "lib", "nom", "libelle")
LIST_COLUMNS = ("liste_geo", "liste_communes", "liste_insee")
MEMBER_COLUMNS = ("insee_com", "code_insee", "code_commune", "codgeo", "depcom", "com",
                  "siren_epci", "siren", "info2", "id_geo")
CLASS_PREFIXES = ("niveau_", "classe", "typo", "categorie")

#: Values of a class column that are no class at all (the commune is left out, noted).
NO_CLASS = {"", "undefined", "na", "nd", "non renseigne", "sans objet"}

#: INSEE grille communale de densité à 7 niveaux: official class codes.
DENSITY_CLASSES = {
    "grands centres urbains": "1",
    "centres urbains intermediaires": "2",
    "ceintures urbaines": "3",
    "petites villes": "4",
    "bourgs ruraux": "5",
    "rural a habitat disperse": "6",
    "rural a habitat tres disperse": "7",
}


@dataclass(frozen=True)
class ZoningPreset:
    """How to read a known programme file (all fields can be overridden by options).

    Attributes
    ----------
    level, label, description : str
        The zoning level id (``ACV``), its French label and a short description.
    zone_column, name_column : str or None
        Zone id and name columns.
    list_column : str or None
        Column of ``"Name (code); …"`` member lists.
    member_column : str or None
        Column of one member code per row.
    class_column : str or None
        Column whose value is the zone (typologies).
    classes : dict
        Search key of a class label → official class code.
    """

    level: str
    label: str
    description: str = ""
    zone_column: str | None = None
    name_column: str | None = None
    list_column: str | None = None
    member_column: str | None = None
    class_column: str | None = None
    classes: dict[str, str] = field(default_factory=dict)


#: Known files, by a regular expression on the file name (without extension).
PRESETS: tuple[tuple[str, ZoningPreset], ...] = (
    (r"acv2(_geom)?", ZoningPreset("ACV2", "Action cœur de ville 2",
                                   "Villes entrées dans Action cœur de ville en 2023")),
    (r"acv(_geom)?", ZoningPreset("ACV", "Action cœur de ville",
                                  "Villes moyennes du programme Action cœur de ville")),
    (r"pvd(_geom)?", ZoningPreset("PVD", "Petites villes de demain",
                                  "Communes lauréates de Petites villes de demain")),
    (r"pvd_communes.*", ZoningPreset(
        "PVD", "Petites villes de demain", "Communes lauréates de Petites villes de demain",
        zone_column="id_pvd", name_column="lib_com", member_column="insee_com")),
    (r"fs(_geom)?", ZoningPreset("FS", "France Services",
                                 "France Services et leur commune d'implantation")),
    (r"(ti(_geom)?|polygone-4326_ti)", ZoningPreset(
        "TI", "Territoires d'industrie", "Territoires d'industrie et leurs EPCI")),
    (r"cv", ZoningPreset("CV", "Contrats de ville",
                         "Contrats de ville 2015-2023 et leur EPCI signataire",
                         zone_column="id", name_column="lib", member_column="info2")),
    (r"geom_cv_ctr_\d{4}", ZoningPreset(
        "CV", "Contrats de ville", "Contrats de ville et leur EPCI ou commune signataire",
        zone_column="code_cv", name_column="lib_cv", member_column="codgeo")),
    (r"citeduc(_geom)?", ZoningPreset("CITEDUC", "Cités éducatives")),
    (r"cde(_geom)?", ZoningPreset("CDE", "Cités de l'emploi")),
    (r"va(_geom)?", ZoningPreset("VA", "Villages d'avenir")),
    (r"fabt(_geom)?", ZoningPreset("FABT", "Fabriques de territoire")),
    (r"grille_densite", ZoningPreset(
        "DENS", "Grille communale de densité", "Grille communale de densité à 7 niveaux "
        "(INSEE)", member_column="insee_com", class_column="niveau_densite",
        classes=DENSITY_CLASSES)),
    (r"grille_ruralite", ZoningPreset(
        "RURAL", "Typologie des ruralités", "Typologie des communes rurales (ANCT)",
        member_column="insee_com", class_column="niveau_ruralite")),
    (r"grille_centralite", ZoningPreset(
        "CENTR", "Niveaux de centralité", "Centralités d'équipements et de services "
        "(ANCT, INRAE)", member_column="insee_com", class_column="niveau_centralite")),
    (r"grille_montagne", ZoningPreset(
        "MONT", "Massifs (loi Montagne)", "Communes des massifs de la loi Montagne",
        member_column="insee_com", class_column="niveau_montagne")),
)

OPTION_KEYS = {"level", "label", "description", "layer", "zone_column", "name_column",
               "list_column", "member_column", "class_column", "classes", "unknown_codes",
               "vintage", "sheet", "header_row"}


def preset_for(path: Path) -> ZoningPreset | None:
    """The preset of a known programme file, from its name."""
    stem = path.name.split(".")[0].lower()
    return next((preset for pattern, preset in PRESETS if re.fullmatch(pattern, stem)), None)


def class_code(label: str, classes: dict[str, str]) -> str:
    """Code of a class: official when known, the ``NN`` of ``"NN - label"``, else a slug.

    Examples
    --------
    >>> class_code("Rural à habitat dispersé", DENSITY_CLASSES)
    '6'
    >>> class_code("02 - Massif du Jura", {})
    '02'
    >>> class_code(" Les ruralités résidentielles mixtes", {})
    'les-ruralites-residentielles-mixtes'
    """
    key = search_key(label)
    if key in classes:
        return classes[key]
    if match := re.match(r"^\s*(\d+)\s*-\s*\S", label):
        return match[1]
    return key.replace(" ", "-")


class Source(Protocol):
    """A table read from a file (:class:`Table` or :class:`VectorTable`)."""

    frame: pd.DataFrame

    def error(self, message: str, row: int | None = None, column: str | None = None,
              expected: str | None = None, found: str | None = None) -> InputFileError:
        """Build an error located at ``row`` and ``column`` of the file."""
        ...


@dataclass
class Links:
    """(zone, member) pairs read from the file, each with where it came from."""

    row: np.ndarray
    zone: np.ndarray
    name: np.ndarray
    code: np.ndarray
    text: np.ndarray
    column: str


def _read_source(path: Path, extra: dict[str, Any]) -> Source:
    if path.suffix.lower() in VECTOR_SUFFIXES:
        return read_vector(path, extra.get("layer"), read_geometry=False)
    header_row = extra.get("header_row", 1)
    if isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1:
        raise InputFileError(path, "header_row est la ligne de l'en-tête, comptée à partir de 1",
                             column="header_row", expected="un nombre entier, 1 ou plus",
                             found=str(header_row))
    return read_table(path, extra.get("sheet"), header_row)


def _column(source: Source, option: str | None, candidates: tuple[str, ...],
            what: str) -> str | None:
    columns = list(source.frame.columns)
    if option is not None:
        if option not in columns:
            raise source.error(f"aucune colonne {option!r} pour {what}", row=-1, column=option,
                               expected="l'une de " + ", ".join(columns), found=option)
        return option
    lowered = {c.lower(): c for c in columns}
    return next((lowered[c] for c in candidates if c in lowered), None)


def _links_from_lists(source: Source, zones: pd.Series, names: pd.Series,
                      column: str, notes: list[str]) -> Links:
    """Explode ``"Name (code); …"`` lists into (zone, member) pairs.

    The « carte des programmes » groups communes that share the same set of zones in one
    feature: a feature carrying several zones (``"cde-023 ; cde-029"``, with as many
    names) puts each of its members in each of its zones.
    """
    text = text_column(source.frame[column])
    items = text.str.split(";").explode().str.strip()
    items = items[items.notna() & (items != "")]
    parsed = items.str.extract(r"^(?P<name>.*?)\s*\((?P<code>[^()]*)\)$")
    bad = parsed["code"].isna()
    if bad.any():
        row = int(items.index[int(np.argmax(bad.to_numpy()))])
        raise source.error("un membre n'est pas écrit 'Nom (code)'", row=row, column=column,
                           expected="des membres comme 'Agen (47001); CA du Grand Reims "
                           "(200067213)'", found=items[bad].iloc[0])
    members = pd.DataFrame({"row": items.index.to_numpy(dtype=np.int64),
                            "code": parsed["code"].str.strip().to_numpy(dtype=object),
                            "text": items.to_numpy(dtype=object)})
    zone_parts = zones.str.split(r"\s*;\s*", regex=True)
    name_parts = names.str.split(r"\s*;\s*", regex=True)
    count = zone_parts.str.len().to_numpy()
    names_match = name_parts.str.len().to_numpy() == count

    def parts(series: pd.Series, column: str) -> pd.DataFrame:
        exploded = series.explode()
        frame = pd.DataFrame({"row": exploded.index.to_numpy(dtype=np.int64),
                              column: exploded.to_numpy(dtype=object)})
        frame["j"] = frame.groupby("row").cumcount()
        return frame

    zone_frame = parts(zone_parts, "zone").merge(parts(name_parts, "part_name"),
                                                 on=["row", "j"], how="left")
    row_of = zone_frame["row"].to_numpy()
    zone_frame["name"] = np.where(names_match[row_of], zone_frame["part_name"],
                                  names.to_numpy(dtype=object)[row_of])
    pairs = members.merge(zone_frame, on="row")
    several = int((count > 1).sum())
    if several:
        notes.append(f"{several} objets placent leurs membres dans plusieurs zones à la fois")
    empty = ~np.isin(np.arange(len(zones)), members["row"].to_numpy())
    if empty.any():
        notes.append(f"{int(empty.sum())} zones sans aucun membre ont été écartées")
    return Links(pairs["row"].to_numpy(dtype=np.int64), pairs["zone"].to_numpy(object),
                 pairs["name"].to_numpy(object), pairs["code"].to_numpy(object),
                 pairs["text"].to_numpy(object), column)


def _links_from_rows(source: Source, zones: pd.Series, names: pd.Series,
                     column: str, notes: list[str]) -> Links:
    """One member code per row; rows without a code are left out (noted)."""
    codes = text_column(source.frame[column])
    missing = codes.str.lower().isin(["", "na", "nan", "none"])
    if missing.any():
        notes.append(f"{int(missing.sum())} lignes sans code de membre dans la colonne {column} "
                     f"ont été écartées (par exemple la zone {zones[missing].iloc[0]})")
    rows = np.flatnonzero(~missing.to_numpy())
    return Links(rows.astype(np.int64), zones.to_numpy(object)[rows],
                 names.to_numpy(object)[rows], codes.to_numpy(object)[rows],
                 codes.to_numpy(object)[rows], column)


#: Every code a member may have, in every vintage, with the communes it stands for: a
#: commune or arrondissement municipal stands for itself, an EPCI or EPT for each of its
#: communes, a commune SIREN for the commune, and a former commune code (one that is no
#: longer a current code) for the commune that replaced it (``former`` true).
MEMBER_LOOKUP_SQL = """
    SELECT vintage, code, level, code AS commune, false AS former FROM territories
    WHERE level IN ('COM', 'ARM')
    UNION ALL
    SELECT vintage, siren, 'COM', code, false FROM territories
    WHERE level = 'COM' AND siren IS NOT NULL
    UNION ALL
    SELECT vintage, parent_code, parent_level, code, false FROM memberships
    WHERE level = 'COM' AND parent_level IN ('EPCI', 'EPT')
    UNION ALL
    SELECT f.vintage, f.former_code, 'COM', f.code, true FROM former_codes f
    ANTI JOIN (SELECT vintage, code FROM territories WHERE level IN ('COM', 'ARM')) t
    ON t.vintage = f.vintage AND t.code = f.former_code
    WHERE f.level = 'COM'"""


def _vintage_scores(warehouse: Warehouse, candidates: list[int]) -> pd.DataFrame:
    """Score each candidate vintage for the member codes registered as ``_zoning_links``.

    ``unknown`` members, members known only as ``former`` codes, and communes of the
    vintage ``absent`` from the file (which tells a typology of the 2025 communes from
    one of the 2024 communes); lower is better on each.
    """
    return warehouse.query(
        f"""WITH lookup AS ({MEMBER_LOOKUP_SQL}),
        file AS (SELECT code, count(*) AS n FROM _zoning_links GROUP BY code),
        found AS (SELECT vintage, code, bool_and(former) AS former FROM lookup
                  WHERE code IN (SELECT code FROM file) GROUP BY ALL),
        stats AS (SELECT f.vintage, sum(file.n) AS known,
                         sum(CASE WHEN f.former THEN file.n ELSE 0 END) AS former
                  FROM found f JOIN file USING (code) GROUP BY f.vintage),
        covered AS (SELECT DISTINCT l.vintage, l.commune FROM lookup l JOIN file USING (code)),
        absent AS (SELECT t.vintage, count(*) AS absent
                   FROM (SELECT vintage, code AS commune FROM territories
                         WHERE level IN ('COM', 'ARM')) t
                   ANTI JOIN covered c ON c.vintage = t.vintage AND c.commune = t.commune
                   GROUP BY t.vintage)
        SELECT v.vintage, (SELECT sum(n) FROM file) - coalesce(s.known, 0) AS unknown,
               coalesce(s.former, 0) AS former, coalesce(a.absent, 0) AS absent
        FROM vintages v LEFT JOIN stats s USING (vintage) LEFT JOIN absent a USING (vintage)
        WHERE list_contains(?, v.vintage)""", [candidates])


def resolve_members(source: Source, links: Links, warehouse: Warehouse,
                    vintage: int | None, unknown_codes: str,
                    notes: list[str]) -> tuple[int, pd.DataFrame]:
    """Choose the vintage of the member codes and replace each by its communes.

    The work is done by DuckDB over the whole référentiel at once (35,000 communes ×
    6 vintages), not row by row.

    Returns
    -------
    vintage : int
    resolved : DataFrame
        Columns ``zone, commune, level`` (``COM`` or ``ARM``), one row per pair.
    """
    built = warehouse.vintages()
    if not built:
        raise source.error("le référentiel est vide : lancez `cohesion build` avant d'importer")
    if vintage is not None:
        warehouse.require_vintage(vintage)
    pairs = pd.DataFrame({"i": np.arange(len(links.code), dtype=np.int64),
                          "zone": links.zone.astype(object), "code": links.code.astype(object)})
    warehouse.connection.register("_zoning_links", pairs)
    try:
        scores = _vintage_scores(warehouse, [vintage] if vintage is not None else built)
        scores = scores.assign(latest=-scores["vintage"]).sort_values(
            ["unknown", "former", "absent", "latest"])
        chosen = int(scores["vintage"].iloc[0])
        resolved = warehouse.query(
            f"""WITH lookup AS ({MEMBER_LOOKUP_SQL})
            SELECT p.i, p.zone, p.code, l.level, l.commune, l.former FROM _zoning_links p
            LEFT JOIN lookup l ON l.code = p.code AND l.vintage = ? ORDER BY p.i""", [chosen])
    finally:
        warehouse.connection.unregister("_zoning_links")
    unknown = resolved["commune"].isna().to_numpy()
    if unknown.any():
        first = int(resolved["i"].to_numpy()[np.argmax(unknown)])
        bad = resolved["i"].to_numpy()[unknown]
        if unknown_codes != "drop":
            raise source.error(
                f"code de territoire inconnu ({len(bad)} membres inconnus dans le COG {chosen}, "
                "le plus proche ; les anciens codes de commune sont rapportés)",
                row=int(links.row[first]), column=links.column,
                expected=f"un code de commune Insee ou un SIREN d'EPCI du COG {chosen}",
                found=str(links.text[first]))
        examples = ", ".join(pd.unique(links.text[bad])[:5])
        notes.append(f"{len(bad)} membres inconnus dans le COG {chosen} ont été écartés "
                     f"(unknown_codes: drop) : {examples}")
        resolved = resolved[~unknown]
    mapped = resolved[resolved["former"].astype(bool)]
    if len(mapped):
        examples = ", ".join(f"{a} → {b}" for a, b in mapped[["code", "commune"]]
                             .drop_duplicates().head(5).itertuples(index=False))
        notes.append(f"{mapped['code'].nunique()} anciens codes de commune rapportés à la commune "
                     f"qui les a remplacés dans le COG {chosen} : {examples}")
    groups = resolved[resolved["level"].isin(["EPCI", "EPT"])]
    if len(groups):
        notes.append(f"{groups['code'].nunique()} EPCI ou EPT remplacés par leurs "
                     f"{groups['commune'].nunique()} communes du COG {chosen}")
    resolved = pd.DataFrame({
        "zone": resolved["zone"].to_numpy(object),
        "commune": resolved["commune"].to_numpy(object),
        "level": np.where(resolved["level"] == "ARM", "ARM", "COM").astype(object)})
    return chosen, resolved.drop_duplicates(["zone", "commune", "level"])


def _level_id(options: dict[str, Any], preset: ZoningPreset | None, zones: pd.Series,
              path: Path) -> str:
    """The zoning level id: given, from the preset, the zone ids' prefix or the file name."""
    level = options.get("level") or (preset.level if preset else None)
    if level is None:
        prefixes = zones.str.extract(r"^([A-Za-z]+)[-_]?\d", expand=False).str.upper()
        if len(prefixes) and prefixes.notna().all() and prefixes.nunique() == 1:
            level = prefixes.iloc[0]
        else:
            level = re.sub(r"[^A-Z0-9]+", "_", path.name.split(".")[0].upper()).strip("_")
            level = level if level[:1].isalpha() else f"Z_{level}"
    level = str(level).upper()[:16]
    if not LEVEL_PATTERN.fullmatch(level):
        raise InputFileError(path, "identifiant d'échelon non valide", column="level",
                             expected="des lettres, des chiffres et '_', en commençant par "
                             "une lettre, comme ACV ou DENS", found=level)
    return level


class ZoningImporter(Importer):
    """A programme or study zoning given as communes (or EPCI) per zone.

    Options (``options.extra``)
    ---------------------------
    level : str
        Level id of the zoning (``ACV``, ``PVD``, ``FS``, ``TI``, ``CV``, ``DENS``,
        ``RURAL``…). Default: from the file name of a known programme file, else the
        prefix of the zone ids (``acv-001`` → ``ACV``), else the file name.
    label, description : str
        French label and description of the level.
    layer : str
        Layer of a multi-layer vector file.
    sheet, header_row : str, int
        Sheet of an XLSX workbook and the row of its header (INSEE workbooks have a
        title block: ``header_row: 5``).
    zone_column, name_column : str
        Zone id and zone name columns.
    list_column : str
        Column of member lists ``"Name (code); Name (code)"`` (ANCT ``liste_geo``).
    member_column : str
        Column of one member code per row (commune INSEE code, EPCI/EPT SIREN, commune
        SIREN).
    class_column : str
        For a typology: the column whose value is the commune's class; each class is a
        zone (``DENS:1`` … ``DENS:7``).
    classes : dict
        Class label → class code, to override the codes of a typology.
    unknown_codes : ``error`` or ``drop``
        What to do with member codes unknown in the detected vintage (default
        ``error``: a located error).
    vintage : int
        COG vintage of the member codes (default: detected); also ``options.vintage``.
    """

    name = "zonage"
    title = "Zonage (programme ou zonage d'étude)"
    producer = "ANCT"

    def read(self, path: Path, warehouse: Warehouse, options: ImportOptions) -> ImportBatch:
        extra = dict(options.extra)
        check_options(path, options, OPTION_KEYS, "des zonages")
        unknown_codes = extra.get("unknown_codes", "error")
        if unknown_codes not in {"error", "drop"}:
            raise InputFileError(path, "unknown_codes doit valoir 'error' ou 'drop'",
                                 column="unknown_codes", expected="error ou drop",
                                 found=str(unknown_codes))
        preset = preset_for(path)
        source = _read_source(path, extra)
        frame = source.frame
        if frame.empty:
            raise source.error("le fichier n'a aucune ligne", expected="des zones et leurs membres",
                               found="0 ligne")
        notes: list[str] = []

        def option(key: str) -> str | None:
            """An option, else the preset's value for a known programme file."""
            return extra.get(key) or (getattr(preset, key) if preset else None)

        class_column = _column(source, option("class_column"), (), "la classe")
        if class_column is None and not any(k in extra for k in ("zone_column",
                                                                  "list_column")):
            class_column = next((c for c in frame.columns
                                 if c.lower().startswith(CLASS_PREFIXES)), None)
        list_column = _column(source, option("list_column"), LIST_COLUMNS, "les listes de membres")
        member_column = None
        if list_column is None:
            member_column = _column(source, option("member_column"), MEMBER_COLUMNS,
                                    "le code du membre")
            if member_column is None:
                raise source.error(
                    "impossible de trouver les membres des zones", row=-1,
                    expected="une colonne de listes 'Nom (code)' (liste_geo) ou de codes de "
                    "commune / SIREN d'EPCI (indiquez-la avec list_column ou member_column)",
                    found=", ".join(list(frame.columns)[:12]))

        classes = dict(preset.classes) if preset else {}
        classes.update({search_key(k): str(v) for k, v in (extra.get("classes") or {}).items()})
        if class_column is not None:
            labels = text_column(frame[class_column])
            distinct = pd.unique(labels)
            keys = dict(zip(distinct, map(search_key, distinct), strict=True))
            no_class = labels.map(keys).isin(NO_CLASS)
            if no_class.all():
                raise source.error("aucune commune n'a de classe", column=class_column,
                                   expected="des libellés de classe", found=labels.iloc[0])
            if no_class.any():
                notes.append(f"{int(no_class.sum())} communes sans classe "
                             f"({labels[no_class].iloc[0]!r}) ont été écartées")
            zones = labels.map({label: class_code(label, classes) for label in distinct})
            zones = zones.where(~no_class, "")
            names = labels
            kind = "class"
        else:
            zone_column = _column(source, option("zone_column"), ZONE_COLUMNS,
                                  "l'identifiant de zone")
            if zone_column is None:
                raise source.error("impossible de trouver la colonne des identifiants de "
                                   "zone", row=-1,
                                   expected="une colonne comme id_territoire (ou indiquez-la "
                                   "avec zone_column)", found=", ".join(frame.columns[:12]))
            zones = text_column(frame[zone_column])
            name_column = _column(source, option("name_column"), NAME_COLUMNS, "le nom de zone")
            names = text_column(frame[name_column]) if name_column else zones
            kind = None
        if member_column is not None:
            fallback = zones == ""
            if fallback.any() and class_column is None:
                notes.append(f"{int(fallback.sum())} lignes sans identifiant de zone forment "
                             "chacune leur propre zone, nommée d'après leur code de membre")
                zones = zones.where(~fallback, text_column(frame[member_column]))
            links = _links_from_rows(source, zones, names, member_column, notes)
            if class_column is not None:
                keep = links.zone != ""
                links = Links(links.row[keep], links.zone[keep], links.name[keep],
                              links.code[keep], links.text[keep], links.column)
        else:
            assert list_column is not None
            links = _links_from_lists(source, zones, names, list_column, notes)
        if len(links.row) == 0:
            raise source.error("aucune zone n'a de membre", expected="des zones et leurs membres")

        level = _level_id(extra, preset, pd.Series(links.zone), path)
        if level in BUILTIN_LEVELS:
            raise InputFileError(path, f"{level} est un échelon intégré, pas un zonage",
                                 column="level", expected="un nouvel identifiant d'échelon comme "
                                                          "ACV",
                                 found=level)
        vintage = extra.get("vintage", options.vintage)
        vintage, resolved = resolve_members(source, links, warehouse,
                                            None if vintage is None else int(vintage),
                                            unknown_codes, notes)

        zone_names = pd.DataFrame({"zone": links.zone, "name": links.name})
        # one row per member (PVD list): a zone of several communes is named after all
        zone_names = zone_names[zone_names["name"] != ""].drop_duplicates()
        zone_names = zone_names.groupby("zone", sort=False)["name"].agg(" - ".join)
        zone_codes = pd.unique(resolved["zone"])
        population = warehouse.query(
            "SELECT code AS commune, level, population FROM territories "
            "WHERE vintage = ? AND level IN ('COM', 'ARM')", [vintage])
        totals = resolved.merge(population, on=["commune", "level"], how="left").groupby(
            "zone")["population"].sum(min_count=1)
        names_out = pd.Series(zone_codes).map(zone_names).fillna(pd.Series(zone_codes))
        territories = pd.DataFrame({
            "level": level, "code": zone_codes, "vintage": vintage,
            "name": names_out.to_numpy(object),
            "search_name": [search_key(n) for n in names_out],
            "population": pd.array(pd.Series(zone_codes).map(totals).round(), dtype="Int64"),
            "siren": None, "kind": kind, "zone": None})
        self._check_not_there(path, warehouse, level, vintage, zone_codes)
        memberships = pd.DataFrame({
            "vintage": vintage, "level": resolved["level"].to_numpy(object),
            "code": resolved["commune"].to_numpy(object), "parent_level": level,
            "parent_code": resolved["zone"].to_numpy(object)})
        tables = {"territories": territories, "memberships": memberships}
        if warehouse.query("SELECT 1 FROM levels WHERE level = ?", [level]).empty:
            label = extra.get("label") or (preset.label if preset else level)
            description = extra.get("description") or (preset.description if preset
                                                        else None) or None
            tables["levels"] = pd.DataFrame({"level": [level], "label": [label],
                                             "kind": ["zoning"],
                                             "description": [description]})
        notes.insert(0, f"zonage {level} : {len(zone_codes)} zones, "
                        f"{resolved['commune'].nunique()} communes, COG {vintage}")
        return ImportBatch(tables=tables, vintage=vintage, rows=len(frame), notes=notes)

    @staticmethod
    def _check_not_there(path: Path, warehouse: Warehouse, level: str, vintage: int,
                         codes: np.ndarray) -> None:
        """Refuse zones already in the warehouse: two editions must not mix silently."""
        there = warehouse.query(
            "SELECT code, dataset_id FROM territories WHERE level = ? AND vintage = ? "
            "AND list_contains(?, code) LIMIT 1", [level, vintage, list(codes)])
        if not there.empty:
            raise InputFileError(
                path, f"la zone {there['code'].iloc[0]} d'échelon {level} est déjà dans "
                f"l'entrepôt pour le COG {vintage} (jeu {there['dataset_id'].iloc[0]}) : "
                "importez une autre édition sous un autre identifiant d'échelon (option level)",
                column="level", expected=f"un échelon autre que {level}", found=level)
