"""The ONPV-style typology of the QPV on the three pillars, on the real Occitanie QPV."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from cohesion.cli.main import main
from cohesion.core import Observatory
from cohesion.errors import InputFileError
from cohesion.policies.qpv_typology import DECLARATION_FILE, load_declaration
from cohesion.web.app import create_app
from conftest import QPV_STATISTICS, shared


@pytest.fixture(scope="module")
def core(qpv_statistics_warehouse_file: Path) -> Iterator[Observatory]:
    observatory = Observatory(qpv_statistics_warehouse_file)
    yield observatory
    observatory.close()


def raw_qpv() -> pd.DataFrame:
    return pd.read_csv(shared(QPV_STATISTICS), encoding="utf-8-sig",
                       dtype={"code_qp": str}).set_index("code_qp")


def test_classes_of_the_occitanie_qpv(core: Observatory) -> None:
    result = core.analyses.qpv_typology_result(4, bootstrap=5, seed=0)
    document = result.document
    raw = raw_qpv()
    inputs = ["tp60", "disp_q2", "brev", "ec_mat", "ec_elem", "serv_par", "ens_sante",
              "tx_tot_empl", "tx_tot_eprec", "abcde", "pop_mun"]
    complete = raw[inputs].notna().all(axis=1)
    assert document["n"] == int(complete.sum()) and document["n"] + document["n_excluded"] == 105
    assert set(document["territories"]["code"]) == set(raw.index[complete])
    assert sum(document["sizes"].values()) == document["n"]
    assert set(document["territories"]["class"]) == {1, 2, 3, 4}
    assert {p["indicator"] for p in document["profiles"]} == {
        "cohesion_sociale", "cadre_de_vie", "emploi"}
    assert document["stability"]["mean_adjusted_rand"] is not None
    assert len(document["indicator_profiles"]) == 4 * 9
    table = result.tables["territories"].set_index("code")
    # the declared ratios are the raw file's
    grand_mirail = raw.loc["QP031007"]
    assert table.loc["QP031007", "demandeurs_emploi_pour_100"] == pytest.approx(
        100 * grand_mirail["abcde"] / grand_mirail["pop_mun"])
    assert table.loc["QP031007", "ecoles_pour_1000"] == pytest.approx(
        1000 * (grand_mirail["ec_mat"] + grand_mirail["ec_elem"]) / grand_mirail["pop_mun"])
    # the poorest class on cohésion sociale has a higher poverty rate than the others
    worst = min((p for p in document["profiles"] if p["indicator"] == "cohesion_sociale"),
                key=lambda p: p["class_mean"])["class"]
    poverty = table.groupby("classe")["taux_pauvrete_60"].mean()
    assert poverty.idxmax() == worst
    assert np.isclose(poverty.loc[worst], raw.loc[table.index[table["classe"] == worst],
                                                  "tp60"].mean())


def test_the_same_on_every_interface(core: Observatory,
                                     qpv_statistics_warehouse_file: Path,
                                     tmp_path: Path) -> None:
    document = core.analyses.qpv_typology(3, bootstrap=5, seed=1)
    with TestClient(create_app(core, warm=False)) as client:
        api = client.get("/api/analysis/typology/qpv", params={"k": 3, "bootstrap": 5,
                                                               "seed": 1})
        assert api.status_code == 200
        assert api.json()["territories"] == document["territories"]
        page = client.get("/analyse/typologie-qpv", params={"k": 3})
        assert page.status_code == 200 and "Cohésion sociale" in page.text
        assert client.get("/analyse/typologie-qpv", params={"k": 99}).status_code == 400
    output = tmp_path / "classes.csv"
    run = CliRunner().invoke(main, ["--warehouse", str(qpv_statistics_warehouse_file),
                                    "analysis", "qpv-typology", "--classes", "3",
                                    "--bootstrap", "5", "--seed", "1", "--output",
                                    str(output)], env={"COLUMNS": "300"})
    assert run.exit_code == 0, run.output
    written = pd.read_csv(output, dtype={"code": str})
    assert written["code"].tolist() == document["territories"]["code"]
    assert written["classe"].tolist() == document["territories"]["class"]


def test_a_bad_declaration_names_its_line(tmp_path: Path) -> None:
    text = DECLARATION_FILE.read_text(encoding="utf-8").replace(
        "direction: lower_is_better}", "direction: worse}", 1)
    bad = tmp_path / "typology.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError) as raised:
        load_declaration(bad)
    assert "worse" in str(raised.value)
    assert raised.value.line == next(i for i, line in enumerate(text.splitlines(), 1)
                                     if "direction: worse" in line)
    assert len(load_declaration().indicators) == 9
