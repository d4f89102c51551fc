"""Fetching catalogue files from a real HTTP server on the loopback interface.

The server serves a temporary folder laid out like a mirror (``HOST/PATH`` of each
official address), filled with real INSEE files from ../shared/data zipped the way
INSEE publishes them. Nothing is downloaded from outside.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import itertools
import socket
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from cohesion.errors import CohesionError, ErrorKind
from cohesion.importers.catalogue import (
    CATALOGUE_FILE,
    Catalogue,
    CatalogueEntry,
    CatalogueError,
    UnknownDatasetError,
    load_catalogue,
    parse_catalogue,
)
from cohesion.importers.fetch import (
    MANIFEST,
    FetchError,
    download,
    fetch,
    mirror_path,
    mirror_url,
)
from cohesion.importers.insee import Comparateur
from cohesion.settings import Settings
from cohesion.store import Warehouse
from conftest import shared

COMPARATEUR_DIR = "commune_indicators/comparateur_rp2018_filo2019"
REGISTRY = {"comparateur": Comparateur()}
NAME = "comparateur-2021"

Route = Callable[[http.server.BaseHTTPRequestHandler], None]


class Mirror:
    """A real ``http.server`` on 127.0.0.1 serving ``root`` laid out by mirror path.

    ``requests`` records every GET path; ``routes`` overrides a path with a handler
    (error statuses, truncated bodies, slow answers).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        self.routes: dict[str, Route] = {}
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                route = mirror.routes.get(self.path)
                if route is not None:
                    route(self)
                else:
                    super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that gave up (timeout test) is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def path_of(self, url: str) -> str:
        return "/" + str(mirror_path(url))

    def place(self, url: str, data: bytes) -> Path:
        target = self.root / mirror_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    root = tmp_path / "mirror"
    root.mkdir()
    server = Mirror(root)
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(scope="module")
def comparateur_zip() -> bytes:
    """The real Comparateur CSV and its dictionary, zipped as INSEE distributes them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("base_cc_comparateur.CSV", "meta_base_cc_comparateur.CSV"):
            archive.write(shared(f"{COMPARATEUR_DIR}/{name}"), name)
    return buffer.getvalue()


@pytest.fixture
def entry() -> CatalogueEntry:
    return load_catalogue()[NAME]


def table_fingerprint(warehouse: Warehouse) -> dict[str, tuple[int, int]]:
    """Row count and content hash of every table.

    Same purpose as conftest.table_fingerprint, whose ``hash(t.*)`` DuckDB 1.5 refuses;
    ``hash(t)`` hashes the whole row as one struct.
    """
    tables = warehouse.query("SELECT table_name FROM information_schema.tables "
                             "WHERE table_schema = 'main'")["table_name"]
    return {name: warehouse.connection.execute(
        f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM {name} t").fetchone()
        for name in tables}


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def with_entry(entry: CatalogueEntry, **changes: object) -> Catalogue:
    return load_catalogue().with_entries(dataclasses.replace(entry, **changes))


# -- catalogue ------------------------------------------------------------------------


def test_shipped_catalogue_loads_and_validates() -> None:
    catalogue = load_catalogue()
    expected = {"comparateur-2021", "filosofi-communes-2019", "filosofi-communes-2020",
                "filosofi-iris-2020", "bpe-2013-communes", "bpe-2023-points",
                "filosofi-carreaux-200m-2019", "qpv-2015", "qpv-2024", "grille-densite",
                "action-coeur-de-ville", "petites-villes-de-demain"}
    assert expected <= set(catalogue)
    for name, entry in catalogue.items():
        assert entry.name == name
        assert entry.url.startswith("https://")
        assert entry.producer in {"INSEE", "ANCT", "IGN"}
        assert "." in entry.file_name
        assert bool(entry.archive) == bool(entry.member)
        assert str(mirror_path(entry.url)).startswith(("www.insee.fr/", "static.data.gouv.fr/"))
    assert catalogue["comparateur-2021"].importer == "comparateur"
    assert catalogue["grille-densite"].import_options().vintage == 2024
    assert catalogue["qpv-2024"].import_options().vintage == 2024
    assert catalogue["petites-villes-de-demain"].import_options().extra["member_column"] == (
        "insee_com")


def test_catalogue_reloads_from_its_yaml_file() -> None:
    assert list(load_catalogue(CATALOGUE_FILE)) == list(load_catalogue())


def raw_entry(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "name": "essai-2020", "title": "Essai", "producer": "INSEE",
        "licence": "Licence Ouverte / Etalab 2.0",
        "url": "https://www.insee.fr/fr/statistiques/fichier/1/essai.zip",
        "archive": "zip", "member": "essai.csv", "format": "csv", "importer": "table"}
    entry.update(changes)
    return {key: value for key, value in entry.items() if value is not None}


@pytest.mark.parametrize(("entries", "message"), [
    ([raw_entry(mebmer="x.csv")], "entrée 'essai-2020' (n° 1) : clé inconnue 'mebmer' ; "
                                  "vouliez-vous dire 'member' ?"),
    ([raw_entry(), raw_entry()], "l'entrée 'essai-2020' est définie deux fois"),
    ([raw_entry(url="ftp://example.org/a.csv")], "n'est pas une adresse de téléchargement valide"),
    ([raw_entry(url="https:/www.insee.fr")], "n'est pas une adresse de téléchargement valide"),
    ([raw_entry(url="https://www.insee.fr/a b.zip")],
     "n'est pas une adresse de téléchargement valide"),
    ([raw_entry(sha256="abc")], "sha256 doit compter 64 chiffres hexadécimaux"),
    ([raw_entry(member=None)], "une archive demande 'member'"),
    ([raw_entry(format="docx")], "format 'docx' n'est pas l'un de"),
    ([raw_entry(name="Essai 2020")], "doit être fait de mots en minuscules"),
    ([raw_entry(title=None)], "'title' est obligatoire"),
    ([raw_entry(options={"replace": True})], "options ne peut pas fixer 'replace'"),
    (["just a string"], "entrée n° 1 : attendu un dictionnaire"),
])
def test_catalogue_validation_names_the_entry(entries: list[object], message: str) -> None:
    with pytest.raises(CatalogueError, match=r"test\.yaml") as raised:
        parse_catalogue({"version": 1, "datasets": entries}, "test.yaml")
    assert message in str(raised.value)


def test_catalogue_file_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("datasets: [\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="YAML non valide"):
        load_catalogue(broken)
    with pytest.raises(CatalogueError, match="impossible de lire"):
        load_catalogue(tmp_path / "missing.yaml")
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"version": 1, "datasets": [raw_entry()]}),
                    encoding="utf-8")
    assert list(load_catalogue(good)) == ["essai-2020"]


def test_mirror_address_keeps_host_and_path(entry: CatalogueEntry) -> None:
    assert mirror_url(entry.url, "http://127.0.0.1:8000/miroir/") == (
        "http://127.0.0.1:8000/miroir/www.insee.fr/fr/statistiques/fichier/2521169/"
        "base_cc_comparateur_csv.zip")


# -- fetch and import -----------------------------------------------------------------


def test_fetch_imports_end_to_end_then_is_idempotent(
        mirror: Mirror, warehouse: Warehouse, tmp_path: Path, entry: CatalogueEntry,
        comparateur_zip: bytes) -> None:
    mirror.place(entry.url, comparateur_zip)
    dest = tmp_path / "downloads"
    seen: list[tuple[int, int | None]] = []

    report = fetch(NAME, warehouse, dest, base_url=mirror.base_url, importer_registry=REGISTRY,
                   progress=lambda done, total: seen.append((done, total)))

    assert mirror.requests == [mirror.path_of(entry.url)]
    assert report.downloaded
    assert report.download.data_file == dest / NAME / "base_cc_comparateur.CSV"
    assert report.download.sha256 == hashlib.sha256(comparateur_zip).hexdigest()
    assert not report.imported.already_imported
    assert report.imported.rows == 35_010
    assert report.imported.vintage == 2021
    assert report.imported.observations > 35_010 * 20
    dataset = warehouse.datasets().iloc[0]
    assert dataset["name"] == NAME
    assert dataset["url"] == entry.url  # the official address, not the mirror's
    assert dataset["file_name"] == "base_cc_comparateur.CSV"
    population = warehouse.query(
        "SELECT value FROM observations WHERE code = '75056' AND variable = 'population' "
        "AND period = '2018'")
    assert len(population) == 1 and population["value"].item() > 2_000_000

    # Progress: starts at 0, grows strictly, ends at the announced total.
    done = [d for d, _ in seen]
    assert done[0] == 0 and len(done) > 2
    assert all(b > a for a, b in itertools.pairwise(done))
    assert done[-1] == len(comparateur_zip)
    assert {total for _, total in seen} == {len(comparateur_zip)}
    assert not [p for p in files_in(dest) if p.name.endswith(".part")]

    before = table_fingerprint(warehouse)
    again = fetch(NAME, warehouse, dest, base_url=mirror.base_url, importer_registry=REGISTRY)
    assert len(mirror.requests) == 1  # nothing downloaded the second time
    assert not again.downloaded
    assert again.imported.already_imported
    assert again.imported.dataset_id == report.imported.dataset_id
    assert table_fingerprint(warehouse) == before


def test_checksum_mismatch_is_refused_and_changes_nothing(
        mirror: Mirror, warehouse: Warehouse, tmp_path: Path, entry: CatalogueEntry,
        comparateur_zip: bytes) -> None:
    mirror.place(entry.url, comparateur_zip)
    before = table_fingerprint(warehouse)
    catalogue = with_entry(entry, sha256="0" * 64)
    with pytest.raises(FetchError, match="empreinte différente") as raised:
        fetch(NAME, warehouse, tmp_path / "dl", base_url=mirror.base_url,
              importer_registry=REGISTRY, catalogue=catalogue)
    assert hashlib.sha256(comparateur_zip).hexdigest() in str(raised.value)
    assert raised.value.kind is ErrorKind.BAD_FILE
    assert table_fingerprint(warehouse) == before
    assert files_in(tmp_path / "dl") == []


def test_known_checksum_accepted_and_reused_without_manifest(
        mirror: Mirror, tmp_path: Path, entry: CatalogueEntry, comparateur_zip: bytes) -> None:
    mirror.place(entry.url, comparateur_zip)
    catalogue = with_entry(entry, sha256=hashlib.sha256(comparateur_zip).hexdigest(),
                           size=len(comparateur_zip))
    first = download(NAME, tmp_path / "dl", base_url=mirror.base_url, catalogue=catalogue)
    assert first.downloaded and first.data_file.read_bytes() == shared(
        f"{COMPARATEUR_DIR}/base_cc_comparateur.CSV").read_bytes()
    # Lost manifest and data file: the archive's catalogue checksum is enough to trust
    # it, and the data file is taken out again without any request.
    (tmp_path / "dl" / NAME / MANIFEST).unlink()
    first.data_file.unlink()
    second = download(NAME, tmp_path / "dl", base_url=mirror.base_url, catalogue=catalogue)
    assert not second.downloaded and second.data_file.is_file()
    assert len(mirror.requests) == 1
    third = download(NAME, tmp_path / "dl", base_url=mirror.base_url, catalogue=catalogue,
                     refresh=True)
    assert third.downloaded and len(mirror.requests) == 2


def test_altered_local_file_is_downloaded_again(
        mirror: Mirror, tmp_path: Path, entry: CatalogueEntry, comparateur_zip: bytes) -> None:
    mirror.place(entry.url, comparateur_zip)
    first = download(entry, tmp_path / "dl", base_url=mirror.base_url)
    altered = bytearray(comparateur_zip)
    altered[len(altered) // 2] ^= 0xFF  # same size, other content
    first.path.write_bytes(bytes(altered))
    second = download(entry, tmp_path / "dl", base_url=mirror.base_url)
    assert second.downloaded and len(mirror.requests) == 2
    assert second.path.read_bytes() == comparateur_zip


def test_http_404_is_a_clear_error(mirror: Mirror, warehouse: Warehouse, tmp_path: Path,
                                   entry: CatalogueEntry) -> None:
    with pytest.raises(FetchError) as raised:
        fetch(NAME, warehouse, tmp_path / "dl", base_url=mirror.base_url,
              importer_registry=REGISTRY)
    message = str(raised.value)
    assert message.startswith(f"{NAME} : HTTP 404")
    assert raised.value.kind is ErrorKind.NOT_FOUND
    assert str(mirror_path(entry.url)) in message
    assert files_in(tmp_path / "dl") == []


def test_http_500_is_a_clear_error(mirror: Mirror, tmp_path: Path,
                                   entry: CatalogueEntry) -> None:
    def failing(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_error(500, "Internal Server Error")

    mirror.routes[mirror.path_of(entry.url)] = failing
    with pytest.raises(FetchError, match="HTTP 500 Internal Server Error") as raised:
        download(entry, tmp_path / "dl", base_url=mirror.base_url)
    assert raised.value.kind is ErrorKind.UNAVAILABLE
    assert files_in(tmp_path / "dl") == []


def test_truncated_body_is_detected(mirror: Mirror, tmp_path: Path, entry: CatalogueEntry,
                                    comparateur_zip: bytes) -> None:
    def cut(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/zip")
        handler.send_header("Content-Length", str(len(comparateur_zip)))
        handler.end_headers()
        handler.wfile.write(comparateur_zip[: len(comparateur_zip) // 2])
        handler.close_connection = True

    mirror.routes[mirror.path_of(entry.url)] = cut
    with pytest.raises(FetchError, match="téléchargement tronqué") as raised:
        download(entry, tmp_path / "dl", base_url=mirror.base_url)
    assert f"sur les {len(comparateur_zip)} annoncés" in str(raised.value)
    assert files_in(tmp_path / "dl") == []


def test_html_page_is_refused(mirror: Mirror, tmp_path: Path, entry: CatalogueEntry) -> None:
    page = (b"<!DOCTYPE html>\n<html lang='fr'><head><title>Page introuvable</title></head>"
            b"<body>Insee</body></html>")
    # Served as application/zip (by its suffix): only the content gives it away.
    mirror.place(entry.url, page)
    with pytest.raises(FetchError, match="a envoyé une page web au lieu du fichier") as raised:
        download(entry, tmp_path / "dl", base_url=mirror.base_url)
    assert raised.value.kind is ErrorKind.BAD_FILE
    assert files_in(tmp_path / "dl") == []

    def html(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(page)))
        handler.end_headers()
        handler.wfile.write(page)

    mirror.routes[mirror.path_of(entry.url)] = html
    with pytest.raises(FetchError, match=r"a envoyé une page web \(text/html\)"):
        download(entry, tmp_path / "dl", base_url=mirror.base_url)
    assert files_in(tmp_path / "dl") == []


def test_unknown_name_suggests_close_names(mirror: Mirror, warehouse: Warehouse,
                                           tmp_path: Path) -> None:
    with pytest.raises(UnknownDatasetError, match="vouliez-vous dire 'comparateur-2021'") as raised:
        fetch("comparateur-2012", warehouse, tmp_path, base_url=mirror.base_url,
              importer_registry=REGISTRY)
    assert raised.value.suggestions == ["comparateur-2021"]
    assert raised.value.kind is ErrorKind.NOT_FOUND
    with pytest.raises(UnknownDatasetError, match="'qpv-2015' ou 'qpv-2024'"):
        fetch("qpv", warehouse, tmp_path, importer_registry=REGISTRY)
    assert mirror.requests == []


def test_missing_importer_fails_before_downloading(mirror: Mirror, warehouse: Warehouse,
                                                   tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="nécessite l'importeur 'qpv'") as raised:
        fetch("qpv-2024", warehouse, tmp_path, base_url=mirror.base_url,
              importer_registry=REGISTRY)
    assert raised.value.kind is ErrorKind.CONFLICT
    assert mirror.requests == []


def test_connection_refused(tmp_path: Path, entry: CatalogueEntry) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match="connexion refusée") as raised:
        download(entry, tmp_path / "dl", base_url=f"http://127.0.0.1:{port}")
    assert raised.value.kind is ErrorKind.UNAVAILABLE
    assert files_in(tmp_path / "dl") == []


def test_timeout_is_configurable(mirror: Mirror, tmp_path: Path, entry: CatalogueEntry) -> None:
    def slow(handler: http.server.BaseHTTPRequestHandler) -> None:
        time.sleep(3)

    mirror.routes[mirror.path_of(entry.url)] = slow
    started = time.monotonic()
    with pytest.raises(FetchError,
                       match=r"pas de réponse en 0.3 s \(délai dépassé\)") as raised:
        download(entry, tmp_path / "dl", base_url=mirror.base_url, timeout=0.3)
    assert raised.value.kind is ErrorKind.UNAVAILABLE
    assert time.monotonic() - started < 2.5
    assert files_in(tmp_path / "dl") == []


def test_archive_without_the_member_is_refused(mirror: Mirror, tmp_path: Path,
                                               entry: CatalogueEntry) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(shared(f"{COMPARATEUR_DIR}/meta_base_cc_comparateur.CSV"),
                      "meta_base_cc_comparateur.CSV")
    mirror.place(entry.url, buffer.getvalue())
    with pytest.raises(FetchError, match=r"aucun fichier ne correspond à "
                                         r"'base_cc_comparateur\.csv'.*"
                                         r"meta_base_cc_comparateur\.CSV"):
        download(entry, tmp_path / "dl", base_url=mirror.base_url)
    assert files_in(tmp_path / "dl") == []


def test_corrupt_archive_is_refused(mirror: Mirror, tmp_path: Path, entry: CatalogueEntry,
                                    comparateur_zip: bytes) -> None:
    damaged = bytearray(comparateur_zip)
    damaged[len(damaged) // 3] ^= 0xFF  # inside the compressed CSV: CRC or inflate fails
    mirror.place(entry.url, bytes(damaged))
    with pytest.raises(FetchError,
                       match=r"impossible d'extraire base_cc_comparateur\.CSV de") as raised:
        download(entry, tmp_path / "dl", base_url=mirror.base_url)
    assert raised.value.kind is ErrorKind.BAD_FILE
    mirror.place(entry.url, comparateur_zip[:100] + b"\x00" * 50)
    with pytest.raises(FetchError, match="n'est pas une archive zip valide"):
        download(entry, tmp_path / "dl", base_url=mirror.base_url)
    assert files_in(tmp_path / "dl") == []


def test_nested_archive_and_plain_file(mirror: Mirror, tmp_path: Path,
                                       entry: CatalogueEntry, comparateur_zip: bytes) -> None:
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as archive:
        archive.writestr("livraison/comparateur.zip", comparateur_zip)
        archive.writestr("LISEZMOI.txt", "Insee")
    nested = dataclasses.replace(
        entry, name="essai-imbrique", url="https://www.insee.fr/fr/fichier/1/double.zip",
        member=("*.zip", "base_cc_comparateur.csv"))
    mirror.place(nested.url, outer.getvalue())
    got = download(nested, tmp_path / "dl", base_url=mirror.base_url)
    assert [p.name for p in got.files] == ["base_cc_comparateur.CSV"]
    assert sorted(p.name for p in (tmp_path / "dl" / "essai-imbrique").iterdir()) == [
        "base_cc_comparateur.CSV", "double.zip", MANIFEST]

    plain = dataclasses.replace(
        entry, name="essai-csv", archive=None, member=(),
        url="https://static.data.gouv.fr/resources/essai/base.csv")
    csv = shared(f"{COMPARATEUR_DIR}/meta_base_cc_comparateur.CSV").read_bytes()
    mirror.place(plain.url, csv)
    got = download(plain, tmp_path / "dl", base_url=mirror.base_url)
    assert got.data_file == got.path == tmp_path / "dl" / "essai-csv" / "base.csv"
    assert got.data_file.read_bytes() == csv


def test_shapefile_comes_with_its_companions(mirror: Mirror, tmp_path: Path) -> None:
    entry = load_catalogue()["qpv-2015"]
    header = b"\x00\x00\x27\x0a" + b"\x00" * 96  # the shapefile magic number
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as archive:
        archive.writestr("QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp", header)
        for suffix in (".shx", ".dbf", ".prj", ".cpg"):
            archive.writestr(f"QP_METROPOLEOUTREMER_WGS84_EPSG4326{suffix}", b"x")
        archive.writestr("__MACOSX/._QP_METROPOLEOUTREMER_WGS84_EPSG4326.shp", header)
        archive.writestr("Notice.pdf", b"%PDF")
    mirror.place(entry.url, outer.getvalue())
    got = download(entry, tmp_path / "dl", base_url=mirror.base_url)
    assert [p.suffix for p in got.files] == [".shp", ".shx", ".dbf", ".prj", ".cpg"]
    assert not (tmp_path / "dl" / entry.name / "Notice.pdf").exists()


def test_mirror_from_settings_and_file_url(
        mirror: Mirror, tmp_path: Path, entry: CatalogueEntry, comparateur_zip: bytes) -> None:
    mirror.place(entry.url, comparateur_zip)
    settings = Settings.from_environ({"COHESION_MIRROR": mirror.base_url})
    got = download(entry, tmp_path / "a", base_url=settings.mirror)
    assert got.url == mirror.base_url + mirror.path_of(entry.url)
    assert len(mirror.requests) == 1
    # A mirror on a shared drive: a file:// folder laid out the same way.
    got = download(entry, tmp_path / "b", base_url=mirror.root.as_uri())
    assert got.downloaded and got.data_file.name == "base_cc_comparateur.CSV"
    assert len(mirror.requests) == 1
    with pytest.raises(FetchError, match="introuvable sur le miroir") as raised:
        download(entry, tmp_path / "c", base_url=(tmp_path / "vide").as_uri())
    assert raised.value.kind is ErrorKind.NOT_FOUND
    with pytest.raises(CohesionError, match="pas une adresse de miroir"):
        download(entry, tmp_path / "d", base_url="ftp://miroir")
