"""Batch location of CSV and Parquet files: streaming, every row kept, per-row errors,
bad files refused, and the Dask path giving the same files as the single-machine one.
"""

from __future__ import annotations

import tracemalloc
from itertools import islice
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cohesion.cli.main import CohesionGroup
from cohesion.cli.qpv import qpv
from cohesion.errors import CohesionError, InputFileError
from cohesion.geo import PointColumns, QpvIndex, locate_file
from cohesion.geo.batch import InputFile, chunk_sizes, locate_frame, parse_coordinates
from cohesion.geo.columnar import csv_lines
from cohesion.geo.distributed import local_client, locate_file_distributed
from cohesion.geo.locate import BANDS, ERROR_OUTSIDE, ERROR_SWAPPED
from cohesion.settings import Settings
from cohesion.spreadsheet import neutralise_formulas
from conftest import shared
from test_geo_locate import DVF, LOOKUP_2024, VINTAGE

LON_LAT = PointColumns(lon="longitude", lat="latitude")


@pytest.fixture(scope="module")
def index(qpv_index: QpvIndex) -> QpvIndex:
    return qpv_index


@pytest.fixture(scope="module")
def dvf() -> pd.DataFrame:
    """The real DVF sales near Occitanie's QPV (codes kept as text, dates as dates)."""
    return pd.read_excel(shared(DVF), dtype={"code_commune": str, "code_departement": str})


@pytest.fixture(scope="module")
def dvf_csv(dvf: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sales as a French CSV: ';', Windows-1252, decimal commas."""
    path = tmp_path_factory.mktemp("dvf") / "ventes.csv"
    dvf.to_csv(path, sep=";", decimal=",", index=False, encoding="cp1252")
    return path


@pytest.fixture(scope="module")
def dvf_parquet(dvf: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dvf") / "ventes.parquet"
    dvf.to_parquet(path, index=False, row_group_size=5_000)
    return path


def expected_results(index: QpvIndex, dvf: pd.DataFrame) -> pd.DataFrame:
    return index.locate(dvf["longitude"].to_numpy(), dvf["latitude"].to_numpy()).to_frame()


def assert_results_equal(found: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Result columns read back from a file equal the index's own results."""
    for column in expected.columns:
        if column.startswith("distance_"):
            values = pd.to_numeric(found[column], errors="coerce").to_numpy(dtype=float)
            assert np.allclose(values, expected[column], equal_nan=True), column
        else:
            text = found[column].astype(object).where(found[column].notna(), "")
            assert (text.to_numpy() == expected[column].fillna("").to_numpy()).all(), column


# -- CSV and Parquet ------------------------------------------------------------------


def test_csv_keeps_every_row_and_column(index: QpvIndex, dvf: pd.DataFrame, dvf_csv: Path,
                                        tmp_path: Path) -> None:
    done: list[int] = []
    output = tmp_path / "sortie.csv"
    summary = locate_file(index, dvf_csv, output, LON_LAT, chunk_rows=4_000,
                          progress=done.append)
    # a quarter of a chunk first, then whole chunks, smaller ones at the end
    steps = np.diff([0, *done])
    assert done[-1] == 28_825 and steps[0] == 1_000 and steps.max() == 4_000
    assert (steps[:-1] >= 500).all() and (steps > 0).all()
    assert summary.rows == 28_825 and summary.errors == 0
    assert summary.inside == {2015: 28_465, 2024: 0}
    # 2024: PACA's contours only; sales in communes with a 2024 QPV are not covered,
    # the others are « hors QPV » (the national list says they have none)
    listed = dvf["code_commune"].str.zfill(5).isin(index.layers[2024].listed)
    assert summary.qualities[2024]["non couvert"] == listed.sum() > 0
    assert summary.qualities[2024]["hors QPV"] == (~listed).sum() > 0
    assert summary.covered(2024) == (~listed).sum() and summary.covered(2015) == 28_825
    assert summary.not_covered[2015] == {}
    assert set(summary.not_covered[2024]) <= {"09", "11", "12", "30", "31", "32", "34", "46",
                                               "48", "65", "66", "81", "82"}
    assert sum(summary.not_covered[2024].values()) == listed.sum()
    source = pd.read_csv(dvf_csv, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    written = pd.read_csv(output, sep=";", encoding="utf-8", dtype=str, keep_default_na=False)
    assert list(written.columns) == list(source.columns) + index.columns()
    # rows by band, every band nearest first, counted as the file says
    for g in (2015, 2024):
        assert list(summary.bands[g]) == list(BANDS)
        counts = written[f"bande_onpv_{g}"].value_counts()
        assert summary.bands[g] == {band: int(counts.get(band, 0)) for band in BANDS}
    assert summary.bands[2015]["dans un QPV"] == 28_465
    assert summary.bands[2015]["< 300 m"] > 0  # sales just out of a QPV
    # 2024: the sales « hors QPV » are so through the national list only, unmeasured
    assert sum(summary.bands[2024].values()) == 0
    pd.testing.assert_frame_equal(written[source.columns], source)  # text kept as it was
    assert_results_equal(written, expected_results(index, dvf))
    assert not list(tmp_path.glob(".*partiel"))


def test_parquet_keeps_column_types(index: QpvIndex, dvf: pd.DataFrame, dvf_parquet: Path,
                                    tmp_path: Path) -> None:
    output = tmp_path / "sortie.parquet"
    summary = locate_file(index, dvf_parquet, output, LON_LAT, chunk_rows=7_000)
    assert summary.rows == 28_825
    written = pq.read_table(output)
    source = pq.read_table(dvf_parquet)
    assert written.schema.names == source.schema.names + index.columns()
    assert written.select(source.schema.names).equals(source.replace_schema_metadata(None))
    assert str(written.schema.field("date_mutation").type).startswith("timestamp")
    assert str(written.schema.field("distance_qpv_2015_m").type) == "double"
    assert_results_equal(written.to_pandas(), expected_results(index, dvf))


def test_parquet_types_read_back(index: QpvIndex, tmp_path: Path) -> None:
    """Types Parquet alone does not tell (a time zone) are kept; text reads back as text,
    the result columns too, though they are written from dictionary-encoded columns."""
    source, output = tmp_path / "points.parquet", tmp_path / "sortie.parquet"
    pq.write_table(pa.table({
        "quand": pa.array([0, 1], pa.timestamp("ms", tz="Europe/Paris")),
        "genre": pa.array(["a", "b"]).dictionary_encode(),
        "longitude": [3.8767, 3.88], "latitude": [43.6108, 43.61]}), source)
    locate_file(index, source, output, LON_LAT)
    written = pq.read_table(output).schema
    assert written.field("quand").type == pa.timestamp("ms", tz="Europe/Paris")
    assert written.field("genre").type == written.field("qpv_2015").type == pa.string()


def test_csv_to_parquet_and_back(index: QpvIndex, dvf: pd.DataFrame, dvf_csv: Path,
                                 dvf_parquet: Path, tmp_path: Path) -> None:
    expected = expected_results(index, dvf)
    locate_file(index, dvf_csv, tmp_path / "a.parquet", LON_LAT)
    assert_results_equal(pd.read_parquet(tmp_path / "a.parquet"), expected)
    locate_file(index, dvf_parquet, tmp_path / "b.csv", LON_LAT)
    written = pd.read_csv(tmp_path / "b.csv", dtype=str, keep_default_na=False)  # ',' then
    assert_results_equal(written, expected)


def test_projected_coordinates(index: QpvIndex, tmp_path: Path) -> None:
    source = tmp_path / "lambert.csv"
    source.write_text("id,X,Y\n1,770500.5,6279200.0\n2,6279200.0,770500.5\n", encoding="utf-8")
    locate_file(index, source, tmp_path / "sortie.csv",
                PointColumns(x="X", y="Y", crs="EPSG:2154"))
    written = pd.read_csv(tmp_path / "sortie.csv", dtype=str, keep_default_na=False)
    assert written[f"code_commune_{VINTAGE}"].tolist() == ["34172", ""]  # Montpellier
    assert written["erreur"].tolist() == ["", "x et y inversés ?"]


def test_rows_in_error_are_kept_in_place(index: QpvIndex, tmp_path: Path) -> None:
    rows = [("1", "3.8767", "43.6108"), ("2", "", "43.6"), ("3", "abc", "43.6"),
            ("4", "43.6108", "3.8767"), ("5", "3.87", "95"), ("6", "200", "43.6"),
            ("7", "-3.7038", "40.4168"), ("8", " ", ""), ("9", '"3,8767"', '"43,6108"')]
    source = tmp_path / "points.csv"
    source.write_text("id,lon,lat\n" + "\n".join(",".join(r) for r in rows) + "\n")
    summary = locate_file(index, source, tmp_path / "sortie.csv",
                          PointColumns(lon="lon", lat="lat"))
    written = pd.read_csv(tmp_path / "sortie.csv", dtype=str, keep_default_na=False)
    assert written["id"].tolist() == [str(n) for n in range(1, 10)]
    assert written["erreur"].tolist() == [
        "", "longitude vide", "longitude non numérique : 'abc'", ERROR_SWAPPED,
        "latitude hors bornes (attendu entre -90 et 90)",
        "longitude hors bornes (attendu entre -180 et 180)", ERROR_OUTSIDE,
        "longitude vide ; latitude vide", ""]
    assert written[f"code_commune_{VINTAGE}"].tolist() == ["34172"] + [""] * 7 + ["34172"]
    assert (written.loc[1:7, "qualite_qpv_2015"] == "").all()
    assert summary.rows == 9 and summary.errors == 7


def test_csv_is_written_as_pandas_writes_it(index: QpvIndex, tmp_path: Path) -> None:
    """Quoting, formulas, accents, floats, empty cells: byte for byte ``to_csv``'s file."""
    source = pd.DataFrame({
        "nom": ["a;b", 'dit "le grand"', "deux\nlignes", "=SOMME(A1)", "-x", "+33 1 23",
                "Nîmes", "", "@moi", "tab\tau milieu", "\tindenté", "ok"],
        "lon": ["3.8767", "-1,5", "3,8767", "2.35", " 3.87 ", "-0.5", "4.36", "", "3.88",
                "3.8767", "abc", "1e0"],
        "lat": ["43.6108", "43.6", "43,6108", "48.85", "43.61", "44.8", "43.84", "43.6",
                "43.61", "43.6108", "43.6", "43.6"]})
    path = tmp_path / "points.csv"
    source.to_csv(path, sep=";", index=False, encoding="utf-8")
    output = tmp_path / "sortie.csv"
    locate_file(index, path, output, PointColumns(lon="lon", lat="lat"), chunk_rows=5)
    read = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
    assert read.equals(source)  # the source file holds what it should
    results = pd.concat([locate_frame(index, part, PointColumns(lon="lon", lat="lat"))
                         for part in (source.iloc[:5], source.iloc[5:10], source.iloc[10:])])
    expected = neutralise_formulas(pd.concat([source, results], axis=1)).to_csv(
        sep=";", index=False, lineterminator="\n")
    assert output.read_bytes() == expected.encode("utf-8")
    assert "'=SOMME(A1)" in expected and '"deux\nlignes"' in expected  # both were tried


@pytest.mark.parametrize("values", [
    # distances: whole numbers of hundredths
    [0.0, 0.01, 0.1, 0.3, 220.1, 4999.5, 9999.99, float("nan")],
    # with negative numbers, numbers not whole hundredths, far from 1
    [0.0, -0.0, -3.25, 10000.0, 0.125, 1e-05, 1e16, 2.5e-07, 123456.78, float("nan")],
    np.round(np.random.default_rng(5).uniform(0, 12_000, 5_000), 2).tolist()])
def test_floats_are_written_as_pandas_writes_them(values: list[float]) -> None:
    frame = pd.DataFrame({"x": values, "n": 1})  # (pandas quotes a lone empty cell)
    expected = frame.to_csv(index=False, header=False, lineterminator="\n")
    assert csv_lines(pa.Table.from_pandas(frame), ",").to_pybytes() == expected.encode()


def test_rows_arrow_refuses_are_read_by_pandas(index: QpvIndex, tmp_path: Path) -> None:
    """A short row, or a quote that looks unclosed, is read as pandas reads it: kept."""
    source = tmp_path / "points.csv"
    source.write_text('id,lon,lat\n1,3.8767,43.6108\n2,3.8767\n3 "pouces",3.8767,43.6108\n')
    summary = locate_file(index, source, tmp_path / "sortie.csv", PointColumns(lon="lon",
                                                                               lat="lat"))
    written = pd.read_csv(tmp_path / "sortie.csv", dtype=str, keep_default_na=False)
    assert written["id"].tolist() == ["1", "2", '3 "pouces"']
    assert written["erreur"].tolist() == ["", "latitude vide", ""]
    assert summary.rows == 3 and summary.errors == 1
    # a quote kept as it is in an unquoted value, and one that never closes: an even count
    source.write_text('id,lon,lat\n1,3.8767,43.6108\n2 5" écran,3.8767,43.6108\n'
                      '3,3.8767,"43.6108\n')
    with pytest.raises(InputFileError, match="ligne CSV illisible"):
        locate_file(index, source, tmp_path / "sortie.csv", PointColumns(lon="lon", lat="lat"))


@pytest.mark.parametrize(("content", "message"), [
    (b"", "le fichier est vide"),
    (b"  \n\n", "le fichier est vide"),
    (b"id;longitude;latitude\n", "aucune ligne de points"),
    (b"id;lng;lat\n1;3.8;43.6\n", "pas de colonne « longitude » pour la longitude ; "
                                  "colonnes du fichier : id, lng, lat"),
    (b"id;longitude;latitude;qpv_2015\n1;3.8;43.6;x\n", "déjà une colonne « qpv_2015 »"),
    (b"id;longitude;id;latitude\n1;3.8;2;43.6\n", "deux colonnes s'appellent « id »"),
    (b"id;longitude;latitude\n1;3.8;43.6\n2;3.8;43.6;9\n", "ligne 3 : la ligne a 4 champs"),
    (b'id;longitude;latitude\n1;3.8;"43.6\n', "ligne CSV illisible"),
    (b"\x00\x01\x02binary", "fichier binaire"),
])
def test_bad_files_are_refused(index: QpvIndex, tmp_path: Path, content: bytes,
                               message: str) -> None:
    source = tmp_path / "points.csv"
    source.write_bytes(content)
    output = tmp_path / "sortie.csv"
    with pytest.raises(InputFileError) as raised:
        locate_file(index, source, output, LON_LAT)
    assert message in str(raised.value)
    assert str(source) in str(raised.value)
    assert not output.exists() and not list(tmp_path.glob(".*partiel"))


def test_missing_and_unreadable_parquet(index: QpvIndex, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="fichier introuvable"):
        locate_file(index, tmp_path / "absent.csv", tmp_path / "sortie.csv", LON_LAT)
    broken = tmp_path / "points.parquet"
    broken.write_bytes(b"this is not parquet")
    with pytest.raises(InputFileError, match="Parquet illisible"):
        locate_file(index, broken, tmp_path / "sortie.csv", LON_LAT)
    empty = tmp_path / "vide.parquet"
    pd.DataFrame({"longitude": pd.Series([], dtype=float),
                  "latitude": pd.Series([], dtype=float)}).to_parquet(empty)
    with pytest.raises(InputFileError, match="aucune ligne de points"):
        locate_file(index, empty, tmp_path / "sortie.csv", LON_LAT)


def test_point_columns_must_be_complete() -> None:
    for wrong in ({"lon": "a"}, {"x": "a", "y": "b"}, {"lon": "a", "lat": "b", "crs": "2154"},
                  {}):
        with pytest.raises(CohesionError, match=r"\(lon, lat\)"):
            PointColumns(**wrong)


@pytest.mark.parametrize("expected", [0, 7, 28_825, 1_000_000])
def test_chunk_sizes_start_small_and_end_small(expected: int) -> None:
    sizes = list(islice(chunk_sizes(expected, 4_000, workers=2), 400))
    assert sizes[0] == 1_000 and max(sizes) <= 4_000 and min(sizes) == 500
    covered = np.cumsum(sizes)
    # whole chunks while more than two per thread are left, then ever smaller ones
    last_whole = np.flatnonzero(np.array(sizes) == 4_000)
    if expected > 20_000:
        assert expected - covered[last_whole[-1]] < 4 * 4_000
    shrinking = np.array(sizes[last_whole[-1] + 1:] if len(last_whole) else sizes[1:])
    assert (np.diff(shrinking) <= 0).all()
    # the estimate may be wrong: the chunks go on, at the smallest size
    assert sizes[-1] == 500


def test_row_longer_than_arrow_block_is_read(index: QpvIndex, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    note = "x" * (3 << 20)  # longer than a block of Arrow's reader, not the second line
    path.write_text(f"id,lon,lat,note\n1,3.8767,43.6108,court\n2,3.88,43.61,{note}\n")
    summary = locate_file(index, path, tmp_path / "sortie.csv", PointColumns(lon="lon",
                                                                           lat="lat"))
    written = pd.read_csv(tmp_path / "sortie.csv", dtype=str, keep_default_na=False)
    assert summary.rows == 2 and written["note"].tolist() == ["court", note]
    assert written["erreur"].tolist() == ["", ""] and written["qualite_qpv_2015"].all()


def test_count_rows(dvf_csv: Path, dvf_parquet: Path) -> None:
    assert InputFile.open(dvf_csv).count_rows() == 28_825
    assert InputFile.open(dvf_parquet).count_rows() == 28_825


# -- constant memory ------------------------------------------------------------------


def synthetic_csv(path: Path, dvf: pd.DataFrame, rows: int) -> Path:
    """``rows`` points scattered around the real sales, with a few text columns."""
    rng = np.random.default_rng(rows)
    chosen = rng.integers(0, len(dvf), rows)
    pd.DataFrame({
        "id": np.arange(rows), "libelle": dvf["type_local"].to_numpy()[chosen],
        "longitude": dvf["longitude"].to_numpy()[chosen] + rng.normal(0, 0.005, rows),
        "latitude": dvf["latitude"].to_numpy()[chosen] + rng.normal(0, 0.005, rows),
    }).to_csv(path, index=False)
    return path


def test_memory_does_not_grow_with_the_file(index: QpvIndex, dvf: pd.DataFrame,
                                            tmp_path: Path) -> None:
    peaks = {}
    for rows in (50_000, 200_000):
        source = synthetic_csv(tmp_path / f"{rows}.csv", dvf, rows)
        tracemalloc.start()
        # chunks small enough that both files are read mostly in whole chunks (the
        # first and last ones are smaller, see chunk_sizes)
        summary = locate_file(index, source, tmp_path / f"sortie_{rows}.csv", LON_LAT,
                              chunk_rows=5_000)
        peaks[rows] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert summary.rows == rows
    # four times the rows, not four times the peak (one chunk at a time): a file held
    # whole would about quadruple it; the threads' timing moves it by up to ~30 %
    assert peaks[200_000] < 2 * peaks[50_000]
    assert peaks[200_000] < 200 * 2**20


# -- Dask -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    with local_client(workers=2, processes=True) as dask_client:
        yield dask_client


def test_dask_gives_the_same_csv(index: QpvIndex, client, dvf_csv: Path,
                                 tmp_path: Path) -> None:
    local, distributed = tmp_path / "local.csv", tmp_path / "dask.csv"
    locate_file(index, dvf_csv, local, LON_LAT, chunk_rows=10_000)
    done: list[int] = []
    summary = locate_file_distributed(index, dvf_csv, distributed, LON_LAT, client,
                                      block_bytes=256 << 10, progress=done.append)
    assert len(done) > 5 and done[-1] == 28_825  # several parts, written in order
    assert summary.rows == 28_825 and summary.inside[2015] == 28_465
    assert distributed.read_bytes() == local.read_bytes()
    assert summary.bands == locate_file(index, dvf_csv, tmp_path / "again.csv", LON_LAT).bands


def test_dask_gives_the_same_parquet_and_errors(index: QpvIndex, client, dvf_parquet: Path,
                                                tmp_path: Path) -> None:
    local, distributed = tmp_path / "local.parquet", tmp_path / "dask.parquet"
    locate_file(index, dvf_parquet, local, LON_LAT)
    summary = locate_file_distributed(index, dvf_parquet, distributed, LON_LAT, client)
    assert summary.rows == 28_825
    assert pq.read_table(distributed).equals(pq.read_table(local))
    rows = "id,lon,lat\n1,3.8767,43.6108\n2,abc,43.6\n3,43.6108,3.8767\n"
    source = tmp_path / "points.csv"
    source.write_text(rows)
    local_csv, dask_csv = tmp_path / "a.csv", tmp_path / "b.csv"
    columns = PointColumns(lon="lon", lat="lat")
    locate_file(index, source, local_csv, columns)
    locate_file_distributed(index, source, dask_csv, columns, client)
    assert dask_csv.read_bytes() == local_csv.read_bytes()
    source.write_text("id,lon,lat\n")
    with pytest.raises(InputFileError, match="aucune ligne de points"):
        locate_file_distributed(index, source, dask_csv, columns, client)
    with pytest.raises(InputFileError, match="colonnes du fichier : id, lon, lat"):
        locate_file_distributed(index, source, dask_csv, LON_LAT, client)


# -- command line ---------------------------------------------------------------------


def cli(warehouse: Path) -> click.Group:
    """A root group like ``cohesion``'s, with the ``qpv`` group mounted."""
    @click.group(cls=CohesionGroup)
    @click.pass_context
    def root(ctx: click.Context) -> None:
        ctx.obj = Settings.from_environ().but(warehouse=warehouse)

    root.add_command(qpv)
    return root


def test_command_line(qpv_warehouse_file: Path, dvf_csv: Path, tmp_path: Path) -> None:
    output = tmp_path / "sortie.csv"
    lookup = str(shared(LOOKUP_2024))
    result = CliRunner().invoke(cli(qpv_warehouse_file), [
        "qpv", "locate", str(dvf_csv), "-o", str(output), "--lon", "longitude", "--lat",
        "latitude", "--generation", "2015", "--vintage", str(VINTAGE),
        "--communes-qpv", lookup])
    assert result.exit_code == 0, result.output
    assert "28\u202f825 lignes écrites" in result.output
    assert "QPV 2015 : 28\u202f465 lignes dans un QPV (98,8 % des 28\u202f825 lignes " \
           "couvertes)" in result.output
    assert "non couverte" not in result.output
    # the bands having rows, nearest first
    bands = pd.read_csv(output, sep=";", dtype=str)["bande_onpv_2015"].value_counts()
    shown = ", ".join(f"{band} {bands[band]:,}".replace(",", "\u202f")
                      for band in BANDS if band in bands)
    assert shown.startswith("dans un QPV 28\u202f465, < 300 m ")
    assert f"QPV 2015 : bandes ONPV : {shown}\n" in result.output
    header = output.read_text(encoding="utf-8").splitlines()[0]
    assert header.endswith(";erreur") and "qpv_2024" not in header

    dask_output = tmp_path / "dask.csv"
    result = CliRunner().invoke(cli(qpv_warehouse_file), [
        "qpv", "locate", str(dvf_csv), "-o", str(dask_output), "--lon", "longitude",
        "--lat", "latitude", "--generation", "2015", "--vintage", str(VINTAGE),
        "--communes-qpv", lookup, "--dask", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert dask_output.read_bytes() == output.read_bytes()


def test_command_line_errors(qpv_warehouse_file: Path, dvf_csv: Path, tmp_path: Path) -> None:
    output = tmp_path / "sortie.csv"
    result = CliRunner().invoke(cli(qpv_warehouse_file), [
        "qpv", "locate", str(dvf_csv), "-o", str(output), "--lon", "lng", "--lat", "latitude"])
    assert result.exit_code == 3
    assert "pas de colonne « lng » pour la longitude" in result.output
    assert "longitude, latitude" in result.output  # the columns found
    result = CliRunner().invoke(cli(qpv_warehouse_file), [
        "qpv", "locate", str(dvf_csv), "-o", str(output), "--lon", "longitude"])
    assert result.exit_code == 1 and "--lat" in result.output
    result = CliRunner().invoke(cli(qpv_warehouse_file), [
        "qpv", "locate", str(dvf_csv), "-o", str(output), "--lon", "longitude", "--lat",
        "latitude", "--workers", "2"])
    assert result.exit_code == 2 and "--dask" in result.output
    assert not output.exists()


def test_coordinates_written_nan_are_not_numbers() -> None:
    # Arrow's cast reads « nan »: such a column is looked at value by value
    numbers, errors = parse_coordinates(pa.array(["3.5", "nan", "-4.25"]), "longitude")
    assert numbers[0] == 3.5 and np.isnan(numbers[1]) and numbers[2] == -4.25
    assert errors.tolist() == [None, "longitude non numérique : 'nan'", None]
    numbers, errors = parse_coordinates(pa.array(["3.5", "1e2", "-4.25"]), "longitude")
    assert numbers.tolist() == [3.5, 100.0, -4.25] and errors.tolist() == [None] * 3
