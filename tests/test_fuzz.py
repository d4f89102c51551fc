"""Fuzzing the importers and the QPV locate endpoints with mutated real files.

Every importer that has a real sample in ``../shared/data`` reads a seed (the head of
that sample) spoiled by hypothesis: truncated, re-encoded, with a BOM, another
separator, stray quotes, a huge field, binary junk, lines dropped or repeated, a
duplicated header, or emptied; spreadsheets and vector files also get structural
mutations (rows dropped or repeated, cells spoiled, columns removed, no CRS). The import
either succeeds or raises a :class:`~cohesion.errors.CohesionError` whose French
message names the file (and a line inside it, when it gives one), and after a failure
the warehouse holds exactly what it held before (content fingerprint).

Both locate endpoints get mutated DVF CSV uploads and hostile JSON bodies: never a 5xx,
every 4xx in the shape ``{"error", "status"}``, no server temporary path in a message.

The number of examples comes from the hypothesis profile (``ci`` by default, see
``tests/conftest.py``); ``--hypothesis-profile=long`` runs the long campaign. The cases
tried are printed at the end of the session (« fuzz cases tried »).
"""

from __future__ import annotations

import codecs
import io
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cohesion.errors import CohesionError, InputFileError
from cohesion.importers import ImportOptions, importer_named, run_import
from cohesion.samples import SAMPLES
from cohesion.store import Warehouse
from conftest import shared, table_fingerprint

HUGE_FIELD_BYTES = 5 * 2**20
SEPARATORS = (b";", b",", b"\t", b"|")
#: Words and letters any French sentence of ours holds at least one of.
FRENCH = re.compile(r"\b(le|la|les|de|des|du|un|une|aucun|aucune|fichier|ligne|colonne|"
                    r"attendu|est|pas|ni|ou|en|dans)\b|[éèêàçù]", re.IGNORECASE)
SERVER_PATHS = ("cohesion-qpv-", "/tmp/", "/var/tmp/")


# -- targets --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One importer fed with the head of one real sample.

    ``kind`` says how the seed is cut and which mutations apply: ``text`` (delimited
    text, cut to ``rows`` lines), ``xlsx`` (first sheet, ``rows`` rows kept), ``gpkg``
    and ``geojson`` (``rows`` features kept).
    """

    sample: str
    kind: str
    rows: int
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self):
        return next(s for s in SAMPLES if s.name == self.sample)


TARGETS: dict[str, Target] = {
    "comparateur": Target("comparateur-2021", "text", 1_500),
    "filosofi-communes": Target("filosofi-communes-2020", "text", 1_500),
    "filosofi-iris": Target("filosofi-iris-2020", "xlsx", 300),
    "bpe-communes": Target("bpe-2013-communes", "xlsx", 300),
    "bpe-points": Target("bpe-2023-points-gironde", "text", 2_000),
    "filosofi-carreaux": Target("filosofi-carreaux-gironde", "gpkg", 300),
    "qpv-geojson": Target("qpv-2015-occitanie", "geojson", 30),
    "qpv-gpkg": Target("qpv-2015-marseille", "gpkg", 37),
    "zonage-csv": Target("grille-densite", "text", 2_000),
    "zonage-geojson": Target("action-coeur-de-ville", "geojson", 40),
    "table": Target("barometre-2018-carte-2-1", "text", 2_000),
    "france-services": Target("france-services-2024-sites", "text", 421),
    "osm-points": Target("osm-paris-9e-10e", "text", 60_000),  # XML: the whole file
    "postes-politique-ville": Target("postes-fonjep-2024", "text", 10),  # one JSON line
    "dotations-investissement": Target("dotations-investissement-2019", "xlsx", 300),
    "contrats-ville-2015": Target(
        "contrats-de-ville-2015", "geojson", 40,
        {"perimetres": str(shared("programmes/anct_superposeur_2019/cv.topojson"))}),
    "qpv-iris": Target("qpv-statistiques-strasbourg-sortants-precoces", "text", 39,
                       {"lookup": str(shared("qpv/strasbourg_ems/qpv.xlsx"))}),
}
#: Importers without a real sample, hence not fuzzed here.
UNFUZZED = {"insee-communes", "points", "mairies"}


def test_every_importer_with_a_sample_is_fuzzed() -> None:
    fuzzed = {target.source.importer for target in TARGETS.values()}
    sampled = {sample.importer for sample in SAMPLES}
    assert fuzzed == sampled
    from cohesion.importers import REGISTRY

    assert set(REGISTRY) == fuzzed | UNFUZZED


def text_seed(path: Path, rows: int) -> bytes:
    """The header and the first ``rows`` - 1 lines of a text file."""
    with path.open("rb") as handle:
        return b"".join(line for _, line in zip(range(rows), handle, strict=False))


def xlsx_seed(path: Path, rows: int) -> list[tuple[str, list[list[Any]]]]:
    """The first ``rows`` rows of every sheet (values only)."""
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_path(str(path))
    return [(name, workbook.get_sheet_by_name(name).to_python(nrows=rows))
            for name in workbook.sheet_names]


def write_xlsx(sheets: list[tuple[str, list[list[Any]]]]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets:
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def vector_seed(path: Path, rows: int, layer: str | None = None):
    import pyogrio

    return pyogrio.read_dataframe(path, layer=layer, max_features=rows)


def write_vector(frame, suffix: str, folder: Path) -> bytes:
    """The bytes of ``frame`` written as GeoPackage or GeoJSON."""
    out = folder / f"written{suffix}"
    out.unlink(missing_ok=True)
    frame.to_file(out, driver="GPKG" if suffix == ".gpkg" else "GeoJSON")
    return out.read_bytes()


# -- mutations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutated:
    """A mutation's result; shown by its kind and size when hypothesis reports a failure.

    The whole example is replayed with the ``@reproduce_failure`` blob printed then.
    """

    kind: str
    value: Any

    def __repr__(self) -> str:
        return f"Mutated({self.kind!r}, length {len(self.value)})"


def lines_of(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


@st.composite
def byte_mutation(draw: st.DrawFn, data: bytes) -> Mutated:
    """One mutation meaningful for any file: truncation, junk, overwriting, emptying."""
    kind = draw(st.sampled_from(["truncate", "junk", "overwrite", "empty"]))
    size = len(data)
    if kind == "truncate":
        return Mutated(kind, data[:draw(st.integers(0, max(size - 1, 0)))])
    if kind == "empty":
        return Mutated(kind, draw(st.sampled_from([b"", b"\n", b"   \r\n", b"\xef\xbb\xbf"])))
    junk = draw(st.binary(min_size=1, max_size=256))
    at = draw(st.integers(0, size))
    if kind == "junk":
        return Mutated(kind, data[:at] + junk + data[at:])
    return Mutated(kind, data[:at] + junk + data[at + len(junk):])


@st.composite
def text_mutation(draw: st.DrawFn, data: bytes) -> Mutated:
    """One mutation of a delimited text file."""
    kind = draw(st.sampled_from(["bytes", "encoding", "bom", "separator", "quote", "huge",
                                 "header", "drop", "repeat", "crlf"]))
    lines = lines_of(data)
    if kind == "bytes" or not lines:
        return draw(byte_mutation(data))
    if kind == "encoding":
        encoding = draw(st.sampled_from(["latin-1", "cp1252", "utf-16", "utf-16-le",
                                         "utf-8-sig"]))
        return Mutated(f"encoding {encoding}", decoded(data).encode(encoding, errors="replace"))
    if kind == "bom":
        bom = draw(st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF8 * 2, codecs.BOM_UTF16_LE]))
        return Mutated("bom", bom + data)
    if kind == "separator":
        old = max(SEPARATORS, key=lines[0].count)
        new = draw(st.sampled_from([s for s in SEPARATORS if s != old]))
        return Mutated("separator", data.replace(old, new))
    row = draw(st.integers(0, len(lines) - 1))
    if kind == "quote":
        line = lines[row]
        at = draw(st.integers(0, len(line)))
        lines[row] = line[:at] + draw(st.sampled_from([b'"', b'""', b"'", b'"\n'])) + line[at:]
    elif kind == "huge":
        separator = max(SEPARATORS, key=lines[0].count)
        fields = lines[row].rstrip(b"\r\n").split(separator)
        column = draw(st.integers(0, len(fields) - 1))
        fields[column] = draw(st.sampled_from([b"9", b"x", b"\xc3\xa9"])) * HUGE_FIELD_BYTES
        lines[row] = separator.join(fields) + b"\n"
    elif kind == "header":
        lines.insert(draw(st.integers(1, len(lines))), lines[0])
    elif kind == "drop":
        count = draw(st.integers(1, max(1, len(lines) // 10)))
        del lines[row:row + count]
    elif kind == "repeat":
        lines[row:row] = lines[row:row + draw(st.integers(1, 50))]
    else:
        lines = [line.rstrip(b"\r\n") + b"\r\n" for line in lines]
    return Mutated(kind, b"".join(lines))


JUNK_VALUES = st.one_of(st.none(), st.integers(-10**12, 10**12),
                        st.floats(allow_nan=True, allow_infinity=True),
                        st.text(max_size=40), st.just("s"), st.just(""),
                        st.just("x" * 100_000))


@st.composite
def xlsx_mutation(draw: st.DrawFn, sheets: list[tuple[str, list[list[Any]]]]
                  ) -> Mutated:
    """One structural mutation of the first sheet of a workbook."""
    name, rows = sheets[0]
    rows = [list(row) for row in rows]
    kind = draw(st.sampled_from(["drop", "repeat", "cell", "column", "header", "empty",
                                 "rename"]))
    row = draw(st.integers(0, len(rows) - 1))
    if kind == "drop":
        del rows[row:row + draw(st.integers(1, 20))]
    elif kind == "repeat":
        rows[row:row] = rows[row:row + draw(st.integers(1, 20))]
    elif kind == "cell":
        for _ in range(draw(st.integers(1, 5))):
            target = rows[draw(st.integers(0, len(rows) - 1))]
            if target:
                target[draw(st.integers(0, len(target) - 1))] = draw(JUNK_VALUES)
    elif kind == "column":
        column = draw(st.integers(0, max(len(r) for r in rows) - 1))
        rows = [r[:column] + r[column + 1:] for r in rows]
    elif kind == "header":
        header = next(i for i, r in enumerate(rows) if sum(bool(v) for v in r) > 2)
        rows.insert(header + 1, list(rows[header]))
    elif kind == "empty":
        rows = []
    else:
        name = draw(st.sampled_from(["Feuil1", "", "IRIS", name + " (2)"]))[:31] or "Sheet"
    return Mutated(kind, [(name, [[_cell(v) for v in r] for r in rows]), *sheets[1:]])


def _cell(value: Any) -> Any:
    """``value`` as openpyxl can write it (no control characters, cell-sized)."""
    if isinstance(value, str):
        return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "?", value)[:32_000]
    return value


@st.composite
def vector_mutation(draw: st.DrawFn, frame) -> Mutated:
    """One structural mutation of a table of features."""
    kind = draw(st.sampled_from(["drop", "repeat", "column", "cell", "nocrs", "crs",
                                 "geometry"]))
    frame = frame.copy()
    columns = [c for c in frame.columns if c != "geometry"]
    if kind == "drop":
        keep = draw(st.lists(st.integers(0, len(frame) - 1), max_size=len(frame)))
        frame = frame.iloc[sorted(set(keep))]
    elif kind == "repeat":
        frame = frame.iloc[draw(st.lists(st.integers(0, len(frame) - 1), min_size=1,
                                         max_size=2 * len(frame)))]
    elif kind == "column":
        frame = frame.drop(columns=draw(st.sampled_from(columns)))
    elif kind == "cell":
        column = draw(st.sampled_from(columns))
        values = frame[column].astype(object)
        values.iloc[draw(st.integers(0, len(frame) - 1))] = draw(
            st.one_of(st.none(), st.text(max_size=30), st.just("x" * 100_000)))
        frame[column] = values.astype(str).where(values.notna(), None)
    elif kind == "nocrs":
        frame = frame.set_crs(None, allow_override=True)
    elif kind == "crs":
        frame = frame.set_crs(draw(st.sampled_from([3857, 4326, 2154, 32631])),
                              allow_override=True)
    else:
        from shapely.geometry import LineString, Point, Polygon

        geometries = frame.geometry.copy()
        geometries.iloc[draw(st.integers(0, len(frame) - 1))] = draw(st.sampled_from([
            None, Point(0, 0), LineString([(0, 0), (1, 1)]),
            Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)]),  # self-intersecting
            Polygon()]))
        frame = frame.set_geometry(geometries)
    return Mutated(kind, frame)


# -- checks ---------------------------------------------------------------------------


def check_error(error: CohesionError, path: Path, data: bytes, kind: str) -> str:
    """Check an import's refusal: French, naming the file and, when given, a real line.

    Returns the outcome name for the counts.
    """
    message = str(error)
    assert path.name in message, f"the message does not name the file: {message}"
    own = error.message if isinstance(error, InputFileError) else message
    assert FRENCH.search(own.replace(str(path), "")), f"message not in French: {message}"
    if isinstance(error, InputFileError) and error.line is not None:
        assert error.line >= 1, message
        lines = data.count(b"\n") + 1
        if kind == "text":
            assert error.line <= lines, f"line {error.line} beyond the file's {lines}: {message}"
    return f"refused ({type(error).__name__})"


class Fuzzer:
    """One importer's fuzz run: a private warehouse copy, fingerprinted once."""

    def __init__(self, name: str, target: Target, original: Path, folder: Path,
                 counts: Counter[str]) -> None:
        self.name = name
        self.target = target
        self.original = original
        self.folder = folder
        self.counts = counts
        self.copy = folder / "warehouse.duckdb"
        shutil.copy(original, self.copy)
        with Warehouse(self.copy, read_only=True) as warehouse:
            self.fingerprint = table_fingerprint(warehouse)
        self.path = folder / Path(target.source.path).name

    def attempt(self, data: bytes) -> None:
        """Import ``data`` and check the outcome."""
        self.path.write_bytes(data)
        sample = self.target.source
        options = ImportOptions(vintage=sample.vintage,
                                extra={**sample.options, **self.target.options})
        with Warehouse(self.copy) as warehouse:
            try:
                run_import(warehouse, importer_named(sample.importer), self.path,
                           options=options)
            except CohesionError as error:
                self.counts[check_error(error, self.path, data, self.target.kind)] += 1
                after = table_fingerprint(warehouse)
                changed = {table: (self.fingerprint.get(table), after[table])
                           for table in after if after[table] != self.fingerprint.get(table)}
                assert not changed and after.keys() == self.fingerprint.keys(), (
                    f"the warehouse changed after a refused import: {changed}")
                return
        self.counts["imported"] += 1
        shutil.copy(self.original, self.copy)


# -- the importers --------------------------------------------------------------------


#: Targets whose fuzzing found a fault outside the files this test may fix (see the
#: reason); they run and report, and the fault is expected until it is fixed.
@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The seed of every target: bytes, sheets or a GeoDataFrame."""
    made: dict[str, Any] = {}
    for name, target in TARGETS.items():
        path = shared(target.source.path)
        if target.kind == "text":
            made[name] = text_seed(path, target.rows)
        elif target.kind == "xlsx":
            made[name] = xlsx_seed(path, target.rows)
        else:
            made[name] = vector_seed(path, target.rows,
                                     "qpvs" if path.suffix == ".gpkg" and "marseille" in
                                     path.name else None)
    return made


def test_seeds_import(seeds: dict[str, Any], built_warehouse_file: Path,
                      tmp_path: Path) -> None:
    """Unmutated, every seed imports: the mutations start from a valid file."""
    for name, target in TARGETS.items():
        folder = tmp_path / name
        folder.mkdir()
        fuzzer = Fuzzer(name, target, built_warehouse_file, folder, Counter())
        fuzzer.attempt(_seed_bytes(target, seeds[name], folder))
        assert fuzzer.counts == {"imported": 1}, (name, fuzzer.counts)


def _seed_bytes(target: Target, seed: Any, folder: Path) -> bytes:
    if target.kind == "text":
        return seed
    if target.kind == "xlsx":
        return write_xlsx(seed)
    return write_vector(seed, f".{target.kind}", folder)


@pytest.mark.parametrize("name", TARGETS)
def test_importer_fuzz(name: str, seeds: dict[str, Any], built_warehouse_file: Path,
                       tmp_path: Path, fuzz_cases: dict[str, Counter[str]]) -> None:
    target = TARGETS[name]
    counts = fuzz_cases.setdefault(f"import {name}", Counter())
    fuzzer = Fuzzer(name, target, built_warehouse_file, tmp_path, counts)
    seed = seeds[name]
    seed_bytes = _seed_bytes(target, seed, tmp_path)

    @settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        if target.kind == "text":
            mutated = data.draw(text_mutation(seed_bytes)).value
            if data.draw(st.booleans()):  # a second mutation on top of the first
                mutated = data.draw(text_mutation(mutated)).value
        elif data.draw(st.booleans()):
            mutated = data.draw(byte_mutation(seed_bytes)).value
        elif target.kind == "xlsx":
            mutated = write_xlsx(data.draw(xlsx_mutation(seed)).value)
        else:
            mutated = write_vector(data.draw(vector_mutation(seed)).value, f".{target.kind}",
                                   tmp_path)
        fuzzer.attempt(mutated)

    fuzz()


# -- the locate endpoints -------------------------------------------------------------

DVF = "qpv/hackaviz2021_occitanie/foncier_qp.xlsx"
DVF_ROWS = 300
#: A closed port of the loopback: address geocoding fails without leaving the machine.
DEAD_GEOCODER = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def client(qpv_warehouse_file: Path, client_on_copy) -> Iterator:
    yield from client_on_copy(qpv_warehouse_file, geocoder=DEAD_GEOCODER)


@pytest.fixture(scope="module")
def dvf_csv() -> bytes:
    """A few hundred real DVF sales as the CSV a user would upload."""
    import pandas as pd

    frame = pd.read_excel(shared(DVF), nrows=DVF_ROWS)
    return frame.to_csv(index=False, sep=";").encode("utf-8")


def check_answer(response, allow_unavailable: bool = False) -> str:
    """Never a 5xx; a 4xx in the error shape; no server path. Returns the outcome."""
    status = response.status_code
    allowed = {502} if allow_unavailable else set()
    assert status < 500 or status in allowed, (status, response.text[:2000])
    if status >= 400:
        body = response.json()
        assert set(body) == {"error", "status"}, body
        assert body["status"] == status, body
        assert isinstance(body["error"], str) and body["error"], body
        text = body["error"]
    else:
        text = response.headers.get("X-QPV-Resume", "") + response.text[:100_000]
    for server_path in SERVER_PATHS:
        assert server_path not in text, f"server path in the answer: {text[:2000]}"
    return str(status)


FORM_VALUES = st.one_of(st.sampled_from(["longitude", "latitude", "", "LONGITUDE", "x",
                                         "adresse_numero", "EPSG:2154", "EPSG:99999",
                                         "nan", "1e309", "-1", "0,5", "../../etc/passwd"]),
                        st.text(max_size=30))


def test_locate_csv_fuzz(client, dvf_csv: bytes, fuzz_cases: dict[str, Counter[str]]) -> None:
    counts = fuzz_cases.setdefault("POST /api/qpv/locate.csv", Counter())

    @settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        body = dvf_csv
        for _ in range(data.draw(st.integers(0, 2))):
            body = data.draw(text_mutation(body)).value
        form = {"lon": "longitude", "lat": "latitude"}
        if data.draw(st.booleans()):
            form = data.draw(st.dictionaries(
                st.sampled_from(["lon", "lat", "x", "y", "crs", "adresse", "tolerance",
                                 "min_score", "autre"]), FORM_VALUES, max_size=5))
        name = data.draw(st.sampled_from(["dvf.csv", "dvf.txt", "dvf.tsv", "dvf.xlsx",
                                          "../../dvf.csv", "é è.csv", ".csv"]))
        response = client.post("/api/qpv/locate.csv", data=form,
                               files={"file": (name, body, "text/csv")})
        counts[check_answer(response, allow_unavailable="adresse" in form)] += 1

    fuzz()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20)
POINT_VALUES = st.one_of(JSON, st.sampled_from(["NaN", "nan", "Infinity", "-inf", "1e400",
                                                "43.6", "", "EPSG:2154", "EPSG:0"]),
                         st.integers(min_value=-(10**400), max_value=10**400),
                         st.floats(min_value=-200, max_value=200))
POINTS = st.dictionaries(st.sampled_from(["lon", "lat", "x", "y", "crs", "id", "adresse",
                                          "autre"]), POINT_VALUES, max_size=5)


def _raw_body(draw_json: Any, data: st.DataObject) -> bytes:
    """Serialise a drawn document, or draw a hostile raw body."""
    kind = data.draw(st.sampled_from(["json", "json", "json", "deep", "bytes", "numbers"]))
    if kind == "json":
        return json.dumps(draw_json, allow_nan=True).encode()
    if kind == "deep":
        depth = data.draw(st.integers(100, 200_000))
        return (b'{"points": ' + b"[" * depth + b"]" * depth + b"}")
    if kind == "numbers":
        number = data.draw(st.sampled_from([b"1" * 5000, b"1e999999", b"-0", b"NaN",
                                            b"Infinity", b"0x10"]))
        return b'{"points": [{"lon": ' + number + b', "lat": 43.6}]}'
    return data.draw(byte_mutation(json.dumps(draw_json).encode())).value


def test_locate_json_fuzz(client, fuzz_cases: dict[str, Counter[str]]) -> None:
    counts = fuzz_cases.setdefault("POST /api/qpv/locate", Counter())

    @settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        document = data.draw(st.one_of(
            st.fixed_dictionaries({"points": st.lists(POINTS, max_size=20)},
                                  optional={"tolerance": POINT_VALUES,
                                            "min_score": POINT_VALUES,
                                            "autre": JSON}),
            JSON))
        body = _raw_body(document, data)
        response = client.post("/api/qpv/locate", content=body,
                               headers={"content-type": data.draw(st.sampled_from(
                                   ["application/json", "application/json",
                                    "text/plain", "application/json; charset=latin-1"]))})
        counts[check_answer(response, allow_unavailable=b"adresse" in body)] += 1

    fuzz()
