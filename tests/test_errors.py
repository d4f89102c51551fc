"""One error map: each kind of error gets one HTTP status and one exit code.

The map itself is pinned by one parametrised test that raises an error of every kind
through the real application's handlers and the real command group; then real requests
that fail are sent through both interfaces and must land on the same kind.
"""

from __future__ import annotations

import html
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cohesion.cli import main
from cohesion.cli.errors import EXIT_CODES
from cohesion.cli.main import CohesionGroup
from cohesion.core import Observatory
from cohesion.errors import (
    AuthenticationError,
    BusyError,
    CohesionError,
    ConflictError,
    ErrorKind,
    InputFileError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UnavailableError,
)
from cohesion.settings import Settings
from cohesion.web.app import create_app
from cohesion.web.errors import HTTP_STATUS

TOKEN = "jeton-de-test-erreurs"

#: kind, an error of that kind, HTTP status, exit code, title of the error page
KINDS = [
    (ErrorKind.INVALID, CohesionError("période invalide : « 20x9 »"), 400, 1,
     "Demande invalide"),
    (ErrorKind.NOT_FOUND, NotFoundError("aucun territoire « Atlantide »"), 404, 4,
     "Page ou territoire introuvable"),
    (ErrorKind.BAD_FILE, InputFileError("base.csv", "nombre illisible", line=3,
                                        column="P18_POP"), 422, 3, "Fichier illisible"),
    (ErrorKind.CONFLICT, ConflictError("aucun contour de QPV n'est chargé"), 409, 5,
     "Demande impossible pour l'instant"),
    (ErrorKind.BUSY, BusyError("une analyse est déjà en cours"), 503, 6, "Serveur occupé"),
    (ErrorKind.UNAVAILABLE, UnavailableError("géocodeur injoignable"), 502, 7,
     "Service indisponible"),
    (ErrorKind.UNAUTHENTICATED, AuthenticationError("adresse ou mot de passe incorrect"),
     401, 8, "Connexion nécessaire"),
    (ErrorKind.FORBIDDEN, PermissionDeniedError("réservé aux modérateurs"), 403, 9,
     "Action non autorisée"),
    (ErrorKind.TOO_MANY, RateLimitedError("compte verrouillé 15 minutes", retry_after=900),
     429, 10, "Trop de tentatives"),
]


def test_every_kind_is_mapped_once() -> None:
    assert set(HTTP_STATUS) == set(ErrorKind) == set(EXIT_CODES)
    assert {kind for kind, *_ in KINDS} == set(ErrorKind)


@pytest.fixture(scope="module")
def raising_app(built_warehouse_file: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[FastAPI]:
    """The real application, with two routes that raise the error they are told."""
    copy = tmp_path_factory.mktemp("errors") / "errors.duckdb"
    shutil.copy(built_warehouse_file, copy)
    observatory = Observatory(copy)
    app = create_app(observatory, warm=False)
    errors = {kind.value: error for kind, error, *_ in KINDS}

    def raise_kind(kind: str) -> None:
        raise errors[kind]

    app.add_api_route("/api/_test/{kind}", raise_kind)
    app.add_api_route("/_test/{kind}", raise_kind)
    yield app
    observatory.close()


@pytest.mark.parametrize(("kind", "error", "status", "exit_code", "title"), KINDS,
                         ids=[kind.value for kind, *_ in KINDS])
def test_one_status_and_one_exit_code_per_kind(raising_app: FastAPI, kind: ErrorKind,
                                               error: CohesionError, status: int,
                                               exit_code: int, title: str) -> None:
    assert error.kind is kind
    with TestClient(raising_app) as client:
        answer = client.get(f"/api/_test/{kind.value}")
        assert answer.status_code == status
        assert answer.json() == {"error": str(error), "status": status}
        page = client.get(f"/_test/{kind.value}")
        assert page.status_code == status
        assert page.headers["content-type"].startswith("text/html")
        text = html.unescape(page.text)
        assert title in text and str(error).split(" : ")[-1] in text
        assert "Traceback" not in page.text
        retry = {ErrorKind.BUSY: "5", ErrorKind.TOO_MANY: "900"}.get(kind)
        assert answer.headers.get("retry-after") == retry

    @click.group(cls=CohesionGroup)
    def root() -> None:
        pass

    @root.command()
    def fail() -> None:
        raise error

    result = CliRunner().invoke(root, ["fail"])
    assert result.exit_code == exit_code
    assert str(error) in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_unexpected_errors_say_nothing_of_the_code(raising_app: FastAPI) -> None:
    def broken() -> None:
        raise KeyError("secret_column")

    raising_app.add_api_route("/api/_test_broken", broken)
    with TestClient(raising_app, raise_server_exceptions=False) as client:
        answer = client.get("/api/_test_broken")
    assert answer.status_code == 500
    assert answer.json() == {"error": "erreur interne du serveur", "status": 500}


# -- the same failing request through both interfaces -----------------------------------


@pytest.fixture(scope="module")
def warehouse_copy(loaded_warehouse_file: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("errors-loaded") / "loaded.duckdb"
    shutil.copy(loaded_warehouse_file, copy)
    return copy


@pytest.fixture(scope="module")
def client(warehouse_copy: Path) -> Iterator[TestClient]:
    observatory = Observatory(warehouse_copy, Settings.from_environ().but(admin_token=TOKEN))
    with TestClient(create_app(observatory, warm=False)) as test_client:
        yield test_client
    observatory.close()


@pytest.mark.parametrize(("cli_args", "method", "url", "kind"), [
    (["territory", "show", "COM:99999@2026"], "GET", "/api/territories/COM:99999@2026",
     ErrorKind.NOT_FOUND),
    (["territory", "show", "COM:99999@2026"], "GET", "/territoire/COM:99999@2026",
     ErrorKind.NOT_FOUND),
    (["export", "taux_inconnu", "--level", "DEP"], "GET",
     "/api/values?indicator=taux_inconnu&level=DEP", ErrorKind.NOT_FOUND),
    (["analysis", "inequality", "taux_inconnu", "--level", "DEP"], "GET",
     "/api/analysis/inequality?indicator=taux_inconnu&level=DEP", ErrorKind.NOT_FOUND),
    (["analysis", "inequality", "taux_inconnu", "--level", "DEP"], "GET",
     "/analyse?indicator=taux_inconnu&level=DEP", ErrorKind.NOT_FOUND),
    (["analysis", "inequality", "taux_chomage_15_64", "--level", "DEP", "--period", "1901"],
     "GET", "/api/analysis/inequality?indicator=taux_chomage_15_64&level=DEP&period=1901",
     ErrorKind.INVALID),
    (["import", "comparateur", "{bad}"], "POST", "/api/datasets", ErrorKind.BAD_FILE),
], ids=["territory-api", "territory-page", "indicator-values", "indicator-analysis-api",
        "indicator-analysis-page", "period", "bad-file"])
def test_same_request_same_kind(client: TestClient, warehouse_copy: Path, tmp_path: Path,
                                cli_args: list[str], method: str, url: str,
                                kind: ErrorKind) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("CODGEO;P18_POP\n01001;douze\n", encoding="utf-8")
    args = [str(bad) if arg == "{bad}" else arg for arg in cli_args]
    # the command line on its own copy: one process cannot open a file both read-only
    # (the application's) and read-write (an import)
    own = tmp_path / "cli.duckdb"
    shutil.copy(warehouse_copy, own)
    result = CliRunner().invoke(main, ["--warehouse", str(own), *args])
    assert result.exit_code == EXIT_CODES[kind], result.output
    if method == "POST":
        answer = client.post(url, headers={"Authorization": f"Bearer {TOKEN}"},
                             data={"importer": "comparateur"},
                             files={"file": ("bad.csv", bad.read_bytes(), "text/csv")})
    else:
        answer = client.get(url)
    assert answer.status_code == HTTP_STATUS[kind], answer.text
    if url.startswith("/api"):
        assert set(answer.json()) == {"error", "status"}


def test_a_file_open_in_this_process_is_a_clear_conflict(client: TestClient,
                                                         warehouse_copy: Path) -> None:
    """The application holds the file read-only: an import in the same process is told."""
    result = CliRunner().invoke(main, ["--warehouse", str(warehouse_copy), "build"])
    assert result.exit_code == EXIT_CODES[ErrorKind.CONFLICT], result.output
    assert "déjà ouvert par ce processus" in result.output
