"""The warehouse schema (documented for users in ``docs/warehouse.md``).

Every statement is idempotent so that opening an existing warehouse is a no-op. The
version in ``meta`` lets a later release migrate a file written by an earlier one.

Version 2 adds ``qpv_coverage``: a warehouse of version 1 gets the table (empty) the
next time it is opened for writing; read-only, :meth:`Warehouse.qpv_coverage
<cohesion.store.warehouse.Warehouse.qpv_coverage>` answers without it.

Version 3 adds ``indicator_definitions`` (indicators a computation declares, such as the
accessibility shares, defined like the built-in ones: a ratio of two sums or a published
figure), ``access_runs`` (what each accessibility computation measured, with its
parameters), ``access_times`` (its result for every origin, for the map) and
``funding_lines`` (the money of the politique de la ville and of the territorial
programmes, one line a post or a grant). Read-only on an older file, the reads that need
them answer as if they were empty.

Version 4 adds ``series``: one row per variable × level × vintage × period held in
``observations``, written with them, so that an import checks its series against the
warehouse's and an engine learns what is held without scanning every observation. A
warehouse of an earlier version gets it filled from its observations the next time it is
opened for writing; read-only, :meth:`Warehouse.held_series
<cohesion.store.warehouse.Warehouse.held_series>` reads the observations instead.
"""

SCHEMA_VERSION = "4"
#: The first version holding the ``series`` table.
SERIES_VERSION = 4

#: The ``departement`` of a ``qpv_coverage`` row for a file covering the whole of France.
WHOLE_COUNTRY = "*"

STATEMENTS: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    """CREATE TABLE IF NOT EXISTS vintages (
        vintage INTEGER PRIMARY KEY, source TEXT, source_version TEXT, built_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS levels (
        level TEXT PRIMARY KEY, label TEXT NOT NULL, kind TEXT NOT NULL,
        dataset_id INTEGER, description TEXT)""",
    """CREATE TABLE IF NOT EXISTS territories (
        level TEXT NOT NULL, code TEXT NOT NULL, vintage INTEGER NOT NULL,
        name TEXT NOT NULL, search_name TEXT NOT NULL, population BIGINT, siren TEXT,
        kind TEXT, zone TEXT, dataset_id INTEGER,
        PRIMARY KEY (level, code, vintage))""",
    """CREATE TABLE IF NOT EXISTS memberships (
        vintage INTEGER NOT NULL, level TEXT NOT NULL, code TEXT NOT NULL,
        parent_level TEXT NOT NULL, parent_code TEXT NOT NULL, dataset_id INTEGER)""",
    """CREATE TABLE IF NOT EXISTS postcodes (
        vintage INTEGER NOT NULL, level TEXT NOT NULL, code TEXT NOT NULL,
        postcode TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS former_codes (
        vintage INTEGER NOT NULL, level TEXT NOT NULL, code TEXT NOT NULL,
        former_code TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS passages (
        from_vintage INTEGER NOT NULL, from_code TEXT NOT NULL,
        to_vintage INTEGER NOT NULL, to_code TEXT NOT NULL,
        weight DOUBLE NOT NULL, kind TEXT NOT NULL)""",
    # a contour shared by several vintages (an unchanged commune) is stored once
    """CREATE TABLE IF NOT EXISTS shapes (
        shape_id TEXT PRIMARY KEY, geometry BLOB NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS geometries (
        level TEXT NOT NULL, code TEXT NOT NULL, vintage INTEGER NOT NULL,
        shape_id TEXT NOT NULL, area_km2 DOUBLE, area_crs TEXT, source TEXT,
        dataset_id INTEGER, PRIMARY KEY (level, code, vintage))""",
    "CREATE SEQUENCE IF NOT EXISTS dataset_ids START 1",
    """CREATE TABLE IF NOT EXISTS datasets (
        dataset_id INTEGER PRIMARY KEY, name TEXT NOT NULL, importer TEXT NOT NULL,
        title TEXT, producer TEXT, source TEXT, licence TEXT, url TEXT,
        vintage INTEGER, periods TEXT[], file_name TEXT, checksum TEXT NOT NULL,
        size BIGINT, rows BIGINT, imported_at TIMESTAMP NOT NULL, notes TEXT)""",
    """CREATE TABLE IF NOT EXISTS variables (
        variable TEXT PRIMARY KEY, label TEXT, unit TEXT, additive BOOLEAN,
        source_column TEXT)""",
    """CREATE TABLE IF NOT EXISTS observations (
        variable TEXT NOT NULL, level TEXT NOT NULL, code TEXT NOT NULL,
        vintage INTEGER NOT NULL, period TEXT NOT NULL, value DOUBLE, missing TEXT,
        dataset_id INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS series (
        variable TEXT NOT NULL, level TEXT NOT NULL, vintage INTEGER NOT NULL,
        period TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS equipments (
        dataset_id INTEGER NOT NULL, typequ TEXT NOT NULL, domain TEXT NOT NULL,
        label TEXT, longitude DOUBLE NOT NULL, latitude DOUBLE NOT NULL, code_commune TEXT)""",
    """CREATE TABLE IF NOT EXISTS grid_cells (
        dataset_id INTEGER NOT NULL, cell_id TEXT NOT NULL, geometry BLOB NOT NULL,
        crs TEXT NOT NULL, properties JSON)""",
    # the départements whose QPV of a generation an imported file holds every one of
    # (WHOLE_COUNTRY for a national file): where « hors QPV » is a fact
    """CREATE TABLE IF NOT EXISTS qpv_coverage (
        generation INTEGER NOT NULL, departement TEXT NOT NULL, dataset_id INTEGER NOT NULL)""",
    # indicators declared by a dataset (``kind`` names the class of cohesion.indicators.api)
    """CREATE TABLE IF NOT EXISTS indicator_definitions (
        indicator TEXT PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL, unit TEXT,
        numerator TEXT, denominator TEXT, variable TEXT, scale DOUBLE, direction TEXT,
        source TEXT, description TEXT, dataset_id INTEGER NOT NULL)""",
    # one accessibility measure: equipment × profile, with how it was measured
    """CREATE TABLE IF NOT EXISTS access_runs (
        dataset_id INTEGER NOT NULL, measure TEXT NOT NULL, equipment TEXT NOT NULL,
        equipment_label TEXT, equipment_count INTEGER, profile TEXT NOT NULL,
        speed_kmh DOUBLE, method TEXT NOT NULL, detour DOUBLE, network TEXT,
        network_date TEXT, population TEXT NOT NULL, thresholds INTEGER[] NOT NULL,
        vintage INTEGER NOT NULL, period TEXT NOT NULL, generation INTEGER,
        origins BIGINT, population_total DOUBLE, notes TEXT)""",
    # the time from every origin (a cell) to the nearest equipment of a measure
    """CREATE TABLE IF NOT EXISTS access_times (
        dataset_id INTEGER NOT NULL, measure TEXT NOT NULL, origin TEXT NOT NULL,
        longitude DOUBLE NOT NULL, latitude DOUBLE NOT NULL, population DOUBLE NOT NULL,
        seconds DOUBLE, snap_metres DOUBLE, reachable INTEGER, fca DOUBLE,
        code_commune TEXT, qpv TEXT, zone TEXT)""",
    # one funded post or grant: who gets what, where, when, through which dispositif
    """CREATE TABLE IF NOT EXISTS funding_lines (
        dataset_id INTEGER NOT NULL, line_key TEXT NOT NULL, programme TEXT,
        dispositif TEXT NOT NULL, year INTEGER NOT NULL, beneficiary TEXT, siret TEXT,
        siren TEXT, amount DOUBLE, posts DOUBLE, contrat_ville TEXT, code_commune TEXT,
        departement TEXT, region TEXT, label TEXT, theme TEXT, description TEXT,
        total_cost DOUBLE)""",
)

#: Reasons a value is missing, as INSEE marks them in its files.
MISSING_REASONS = {
    "s": "secret",        # secret statistique
    "nd": "not_available",  # non disponible
    "ns": "not_significant",  # non significatif
    "so": "not_applicable",  # sans objet
    "": "empty",          # cellule vide
}

#: French wording of every reason a value can be missing, for display.
REASON_LABELS = {
    "secret": "secret statistique",
    "not_available": "non disponible",
    "empty": "non renseigné",
    "not_significant": "non significatif",
    "not_applicable": "sans objet",
    "no_data": "pas de donnée",
    "not_aggregable": "non agrégeable",
    "not_convertible": "non convertible entre millésimes",
    "no_geometry": "contour absent",
    "undefined": "non défini",
    "beyond_limit": "au-delà du temps maximal calculé",
}
