"""Every refusal of the API is clean: a 4xx in the one shape ``{"error", "status"}``, in
French, naming what the user sent (their file's name, the API's field names), never a
server path, a library's message or a stack trace.

In process, on the QPV samples: the same fields follow the same rules on the JSON and
the CSV endpoints, bad uploads are named by the user's file name, files too wide are
refused before they are parsed, bodies too large are 413 whether their length is
declared or not, HEAD answers like GET, and gzip goes only to clients that accept it.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cohesion.errors import CohesionError, InputFileError
from cohesion.geo.batch import MAX_POINT_FILE_COLUMNS, InputFile, PointColumns
from cohesion.importers.reading import MAX_HEADER_BYTES, MAX_LINE_BYTES, read_csv_table
from cohesion.web.qpv import MAX_LOCATE_JSON_BYTES

#: What no answer may show: the upload's temporary folder, a server path, the parser's
#: own words, a stack trace, the command line's option names.
LEAKS = ("cohesion-qpv-", "cohesion-utf8-", "/tmp", "Error tokenizing", "C error",
         "Traceback", "--lon", "--lat", "--crs")
#: What the framework says in English when nobody translated it.
ENGLISH = ("Not Found", "Method Not Allowed", "There was an error", "detail",
           "Field required", "JSON decode error")


@pytest.fixture(scope="module")
def client(qpv_warehouse_file: Path, client_on_copy) -> Iterator[TestClient]:
    yield from client_on_copy(qpv_warehouse_file)


def refusal(response, status: int) -> str:
    """Check a refusal's status and shape, that it leaks nothing; return its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "status"} and body["status"] == status
    assert not [leak for leak in (*LEAKS, *ENGLISH) if leak in response.text], response.text
    return body["error"]


def upload(client: TestClient, content: bytes, name: str = "broken.csv",
           **fields: str | list[str]):
    """POST a file to /api/qpv/locate.csv with form fields (default: lon and lat)."""
    return client.post("/api/qpv/locate.csv", files={"file": (name, content, "text/csv")},
                       data=fields or {"lon": "lon", "lat": "lat"})


# -- the same rules for the same fields --------------------------------------------------


@pytest.mark.parametrize("crs", ["notacrs", "EPSG:99999999", "EPSG:5714"])
def test_an_unknown_crs_is_refused_alike_on_both_endpoints(client: TestClient,
                                                          crs: str) -> None:
    points = client.post("/api/qpv/locate", json={"points": [
        {"x": 650_000, "y": 6_860_000, "crs": crs}]})
    form = upload(client, b"X,Y\n650000,6860000\n", x="X", y="Y", crs=crs)
    from_json, from_form = refusal(points, 422), refusal(form, 422)
    assert from_json.startswith("paramètre invalide « points.0.crs » dans le corps : ")
    assert from_form.startswith("paramètre invalide « crs » dans le corps : ")
    assert from_json.split(" : ", 1)[1] == from_form.split(" : ", 1)[1]
    assert repr(crs) in from_form and "EPSG:2154" in from_form
    assert from_form.count(repr(crs)) == 1  # said once, not echoed again


@pytest.mark.parametrize(("field", "value", "words"), [
    ("tolerance", "dix", "un nombre est attendu"),
    ("tolerance", "-1", "supérieur ou égal à 0"),
    ("min_score", "2", "inférieur ou égal à 1"),
    ("crs", "EPSG:2154; DROP", "forme attendue"),
    ("couleur", "bleu", "paramètre inconnu"),
])
def test_every_form_field_follows_the_rules_of_the_json_field(
        client: TestClient, field: str, value: str, words: str) -> None:
    fields = {"x": "X", "y": "Y", "crs": "EPSG:2154"} | {field: value}
    message = refusal(upload(client, b"X,Y\n650000,6860000\n", **fields), 422)
    assert message.startswith(f"paramètre invalide « {field} » dans le corps : ")
    assert words in message
    if field in ("tolerance", "min_score"):
        json_body = {"points": [{"lon": 5.37, "lat": 43.29}], field: float(value)
                     if value.lstrip("-").isdigit() else value}
        assert words in refusal(client.post("/api/qpv/locate", json=json_body), 422)


def test_incomplete_columns_are_explained_with_the_api_field_names(client: TestClient
                                                                   ) -> None:
    message = refusal(upload(client, b"lon,lat\n5.37,43.29\n", lon="lon"), 400)
    assert "(lon, lat)" in message and "(x, y, crs)" in message
    assert "(adresse, répétable)" in message
    with pytest.raises(CohesionError, match="--address, répétable"):
        PointColumns(lon="lon", addresses=("voie",), field_names={
            "lon": "--lon", "lat": "--lat", "x": "--x", "y": "--y", "crs": "--crs",
            "addresses": "--address"})


# -- uploads that cannot be read ----------------------------------------------------------


@pytest.mark.parametrize(("content", "line", "words"), [
    (b'id,lon,lat\n1,5.37,43.29\n2,"5.38,43.3\n3,5.39,43.31\n', 3,
     "un guillemet ouvert à cette ligne n'est jamais fermé"),
    (b"id,lon,lat\n1,5.37,43.29\n2,5.38,43.3,9\n", 3,
     "la ligne a 4 champs, plus que les 3 colonnes de l'en-tête"),
    (b"\x00\x01\x02" * 100, 1, "fichier binaire"),
    (b"", None, "le fichier est vide"),
    (b"id,lon,lat\n", 2, "aucune ligne de points"),
    (b"id,longitude,lat\n1,5.37,43.29\n", 1, "pas de colonne « lon » pour la longitude"),
    (b"id,lon,lat,lon\n1,5.37,43.29,2\n", 1, "deux colonnes s'appellent « lon »"),
    (codecs.BOM_UTF16_LE + "lon\tlat\r\n5.37\t43.29\r\n".encode("utf-16-le")[:-1], None,
     "texte UTF-16 illisible"),
], ids=["open quote", "too many fields", "binary", "empty", "header only",
        "missing column", "duplicated column", "truncated UTF-16"])
def test_a_bad_upload_is_named_by_the_users_file_name(client: TestClient, content: bytes,
                                                      line: int | None, words: str) -> None:
    message = refusal(upload(client, content), 422)
    where = "broken.csv" if line is None else f"broken.csv, ligne {line}"
    assert message.startswith((f"{where} : ", f"{where}, colonne ")), message
    assert words in message


def test_a_wide_csv_is_refused_before_it_is_parsed(client: TestClient,
                                                   tmp_path: Path) -> None:
    """A 1.9 MB file of 200,000 columns held a worker 10 s before it was refused."""
    columns = 200_000
    wide = ("lon,lat," + ",".join(f"c{i:06d}" for i in range(2, columns)) + "\n"
            + ",".join(["5.37", "43.29"] + ["1"] * (columns - 2)) + "\n").encode()
    assert 1.8e6 < len(wide) < 2.2e6
    message = refusal(upload(client, wide), 422)
    assert message == ("broken.csv, ligne 1 : ligne d'en-tête trop longue (attendu au plus "
                       "64 Ko, trouvé 'plus de 64 Ko')")
    # under the header limit, but more columns than a file of points may have
    narrow_names = ",".join(f"c{i}" for i in range(MAX_POINT_FILE_COLUMNS + 1))
    assert len(narrow_names) < MAX_HEADER_BYTES
    message = refusal(upload(client, f"lon,lat,{narrow_names}\n".encode()), 422)
    assert message == ("broken.csv, ligne 1 : trop de colonnes (attendu au plus 1 000 "
                       "colonnes, trouvé '1 003 colonnes')")
    endless = b"lon,lat,note\n5.37,43.29," + b"x" * MAX_LINE_BYTES + b"\n"
    assert refusal(upload(client, endless), 422) == (
        "broken.csv, ligne 2 : ligne trop longue (attendu au plus 1 Mo par ligne, trouvé "
        "'plus de 1 Mo')")
    # the same limits on the command line's path and in the importers' reader
    path = tmp_path / "large.csv"
    path.write_bytes(wide)
    with pytest.raises(InputFileError, match="ligne d'en-tête trop longue"):
        InputFile.open(path)
    with pytest.raises(InputFileError, match="ligne d'en-tête trop longue"):
        read_csv_table(path)


# -- one shape for every error ----------------------------------------------------------


def chunked_json(size: int) -> Iterator[bytes]:
    """A JSON list of points of about ``size`` bytes, sent without a Content-Length."""
    point = b'{"lon": 5.379013, "lat": 43.297013},'
    yield b'{"points": ['
    for _ in range(size // (len(point) * 1000) + 1):
        yield point * 1000
    yield b'{"lon": 5.37, "lat": 43.29}]}'


@pytest.mark.parametrize(("method", "url", "options", "status", "words"), [
    ("GET", "/api/nulle-part", {}, 404, "aucune page à l'adresse /api/nulle-part"),
    ("DELETE", "/api/levels", {}, 405, "méthode DELETE non acceptée"),
    ("GET", "/api/qpv/locate", {}, 405, "méthode GET non acceptée"),
    ("POST", "/api/qpv/locate", {"content": b'{"points": [', "headers": {
        "Content-Type": "application/json"}}, 422, "ce n'est pas du JSON valide"),
    ("POST", "/api/qpv/locate", {"json": {"points": {"lon": 1}}}, 422,
     "« points » dans le corps : une liste est attendue"),
    ("POST", "/api/qpv/locate", {"json": {}}, 422, "obligatoire"),
    ("GET", "/api/territories?limit=0&q=x", {}, 422, "« limit » dans l'adresse"),
    ("GET", "/api/territories/COM:99999@2026", {}, 404, "99999"),
    ("POST", "/api/qpv/locate", {"content": b"{}", "headers": {
        "Content-Type": "application/json", "Content-Length": str(2**30)}}, 413,
     "8 Mo au plus"),
    ("POST", "/api/qpv/locate", {"content": chunked_json(MAX_LOCATE_JSON_BYTES + 2**20),
                                 "headers": {"Content-Type": "application/json"}}, 413,
     "8 Mo au plus"),
    ("POST", "/api/qpv/locate.csv", {"content": b"x", "headers": {
        "Content-Type": "multipart/form-data"}}, 400, "formulaire multipart/form-data"),
    ("POST", "/api/datasets", {"content": b"x", "headers": {
        "Content-Type": "multipart/form-data"}}, 400, "corps de la demande illisible"),
], ids=["unknown route", "wrong method", "GET on a POST route", "malformed JSON",
        "wrong JSON type", "missing field", "bad query parameter", "unknown territory",
        "declared too large", "chunked too large", "malformed multipart",
        "malformed form of a FastAPI route"])
def test_every_api_error_has_the_one_shape(client: TestClient, method: str, url: str,
                                           options: dict, status: int, words: str) -> None:
    message = refusal(client.request(method, url, **options), status)
    assert words in message


# -- HEAD and gzip ----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/qpv", "/api/levels",
                                 "/api/territories?q=marseille", "/static/cohesion.css",
                                 "/api/openapi.json", "/api/geometry/DEP"])
def test_head_answers_like_get_without_a_body(client: TestClient, url: str) -> None:
    identity = {"Accept-Encoding": "identity"}
    got, head = client.get(url, headers=identity), client.head(url, headers=identity)
    assert got.status_code == head.status_code == 200
    assert head.content == b"" and got.content
    assert head.headers["content-type"] == got.headers["content-type"]
    assert int(head.headers["content-length"]) == len(got.content)
    missing = client.head("/api/nulle-part")
    assert missing.status_code == 404 and missing.content == b""


@pytest.mark.parametrize("accept", ["identity", "gzip;q=0", "deflate, br", "*;q=0"])
def test_no_gzip_for_a_client_that_refuses_it(client: TestClient, accept: str) -> None:
    plain = client.get("/api/geometry/DEP", headers={"Accept-Encoding": accept})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert plain.content[:2] != b"\x1f\x8b"
    assert len(json.loads(plain.content)["features"]) > 90
    assert plain.headers["vary"] == "Accept-Encoding"
    packed = client.get("/api/geometry/DEP", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.json() == json.loads(plain.content)  # inflated by the client
    assert packed.num_bytes_downloaded < len(plain.content) / 2
