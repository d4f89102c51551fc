"""Locating points in the QPV: real contours and real DVF sales, checked against
independent point-in-polygon and distance computations (geopandas, brute-force shapely).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from cohesion.errors import CohesionError, InputFileError
from cohesion.geo import QpvIndex, QpvLayer, read_communes_with_qpv
from cohesion.geo.grid import ContainmentGrid, NearestGrid, owners
from cohesion.geo.locate import (
    BAND_THRESHOLDS,
    BANDS,
    ERROR_LATITUDE_RANGE,
    ERROR_LONGITUDE_RANGE,
    ERROR_MISSING,
    ERROR_OUTSIDE,
    ERROR_SWAPPED,
    ERROR_SWAPPED_XY,
    NATIONAL,
    ZONES,
    departement_of_commune,
)
from cohesion.store import Warehouse
from cohesion.territory.crs import LOCAL_CRS
from conftest import (
    QPV_LOOKUP_2024,
    QPV_MARSEILLE,
    QPV_OCCITANIE,
    QPV_PACA_2024,
    QPV_VINTAGE,
    shared,
)

OCCITANIE, MARSEILLE, PACA_2024 = QPV_OCCITANIE, QPV_MARSEILLE, QPV_PACA_2024
LOOKUP_2024, VINTAGE = QPV_LOOKUP_2024, QPV_VINTAGE
DVF = "qpv/hackaviz2021_occitanie/foncier_qp.xlsx"

TO_L93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
TO_WGS84 = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)


@pytest.fixture(scope="module")
def index(qpv_index: QpvIndex) -> QpvIndex:
    return qpv_index


@pytest.fixture(scope="module")
def dvf() -> pd.DataFrame:
    return pd.read_excel(shared(DVF), dtype={"code_commune": str})


def original(relative: str, layer: str | None = None) -> gpd.GeoDataFrame:
    """An original contour file, repaired as the importer repairs invalid polygons."""
    frame = gpd.read_file(shared(relative), layer=layer)
    frame["geometry"] = shapely.make_valid(frame.geometry.to_numpy(), method="structure",
                                           keep_collapsed=False)
    return frame


def exact_within(lon: np.ndarray, lat: np.ndarray, contours: gpd.GeoDataFrame,
                 code: str) -> np.ndarray:
    """The QPV code of each point by geopandas.sjoin (predicate within), None outside."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    joined = gpd.sjoin(points.to_crs(contours.crs), contours[[code, "geometry"]],
                       predicate="within", how="left")
    assert not joined.index.duplicated().any()  # no point in two QPV
    return joined[code].astype(object).where(joined[code].notna(), None).to_numpy()


def around(contours: gpd.GeoDataFrame, count: int, spread_m: float, seed: int) -> tuple:
    """Random points scattered (normal law, metres) around random QPV of ``contours``."""
    rng = np.random.default_rng(seed)
    centres = contours.to_crs("EPSG:2154").geometry.representative_point()
    chosen = rng.integers(0, len(centres), count)
    x = centres.x.to_numpy()[chosen] + rng.normal(0, spread_m, count)
    y = centres.y.to_numpy()[chosen] + rng.normal(0, spread_m, count)
    return TO_WGS84.transform(x, y)


# -- the index ------------------------------------------------------------------------


def test_index_from_the_warehouse(index: QpvIndex) -> None:
    assert index.generations == (2015, 2024)
    assert index.vintage == VINTAGE
    assert len(index.layers[2015].codes) == 105 + 37 and len(index.layers[2024].codes) == 135
    assert index.layers[2024].names[list(index.layers[2024].codes).index("QN00401M")] == \
        "Centre Ville - Pigeonnier"
    # communes with a 2024 QPV: PACA memberships plus the national lookup
    assert {"06088", "13055", "31555", "34172", "48095"} <= index.layers[2024].communes
    # Marseille's 2015 QPV were given by arrondissement: the commune is there too
    assert {"13055", "34172", "66136"} <= index.layers[2015].communes


def test_zones_are_the_projected_crs_of_every_territory() -> None:
    assert set(ZONES) == set(LOCAL_CRS.values()) | {"EPSG:2154"}


# -- exact point-in-polygon on real points ---------------------------------------------


def test_dvf_sales_match_an_exact_point_in_polygon(index: QpvIndex, dvf: pd.DataFrame) -> None:
    assert len(dvf) == 28_825
    lon, lat = dvf["longitude"].to_numpy(), dvf["latitude"].to_numpy()
    found = index.locate(lon, lat)
    assert (found.error == None).all()  # noqa: E711
    expected = exact_within(lon, lat, original(OCCITANIE), "code_qp")
    assert (found.generations[2015].code == expected).all()
    assert (index.within(lon, lat, 2015) == expected).all()
    inside = expected != None  # noqa: E711
    assert inside.sum() == 28_465  # the sales are "near QPV": most of them are in one
    # the commune: the one DVF gives (all these communes are unchanged up to 2026)
    assert (found.commune == dvf["code_commune"].str.zfill(5).to_numpy()).all()
    # names come with the codes
    names = original(OCCITANIE).set_index("code_qp")["nom_qp"]
    assert (found.generations[2015].name[inside] == names[expected[inside]].to_numpy()).all()


def test_dvf_quality_and_distance_against_brute_force(index: QpvIndex,
                                                      dvf: pd.DataFrame) -> None:
    lon, lat = dvf["longitude"].to_numpy(), dvf["latitude"].to_numpy()
    result = index.locate(lon, lat).generations[2015]
    contours = original(OCCITANIE).to_crs("EPSG:2154").geometry.to_numpy()
    points = shapely.points(*TO_L93.transform(lon, lat))
    inside = result.code != None  # noqa: E711
    # nearest border and nearest QPV, by GEOS's own nearest-neighbour search
    border = shapely.STRtree(shapely.boundary(contours)).query_nearest(
        points, return_distance=True, all_matches=False)[1]
    gap = shapely.STRtree(contours).query_nearest(points, return_distance=True,
                                                  all_matches=False)[1]
    assert (result.quality[inside & (border > 10)] == "sûr").all()
    assert (result.quality[border <= 10] == "probable").all()
    assert (result.quality[~inside & (gap > 10)] == "hors QPV").all()
    assert (result.quality == "probable").sum() == 1_743
    # sales on a border (coordinates and contours share a 1e-4° grid) are outside in
    # longitude/latitude and may fall a hair inside once projected: equal to 1 mm
    assert np.allclose(result.distance[~inside], gap[~inside], rtol=1e-9, atol=1e-3)
    assert (result.distance[inside] == 0).all()


@pytest.mark.parametrize(("relative", "layer", "code", "generation"), [
    (OCCITANIE, None, "code_qp", 2015),
    (MARSEILLE, "qpvs", "CODE_QP", 2015),  # Lambert-93 GeoPackage
    (PACA_2024, None, "q", 2024),
])
def test_random_points_match_each_original_file(index: QpvIndex, relative: str,
                                                layer: str | None, code: str,
                                                generation: int) -> None:
    contours = original(relative, layer)
    lon, lat = around(contours, 20_000, 300.0, seed=len(relative))
    expected = exact_within(lon, lat, contours, code)
    assert 0.2 < (expected != None).mean() < 0.9  # noqa: E711 (both cases well represented)
    assert (index.within(lon, lat, generation) == expected).all()
    assert (index.locate(lon, lat).generations[generation].code == expected).all()


def test_distances_and_bands_against_brute_force(index: QpvIndex) -> None:
    contours = original(PACA_2024)
    lon, lat = around(contours, 5_000, 2_500.0, seed=7)
    found = index.locate(lon, lat)
    result = found.generations[2024]
    polygons = contours.to_crs("EPSG:2154").geometry.to_numpy()
    points = shapely.points(*TO_L93.transform(lon, lat))
    gaps = shapely.distance(points[:, None], polygons[None, :])
    gap, nearest = gaps.min(axis=1), contours["q"].to_numpy()[gaps.argmin(axis=1)]
    # points at sea are in no commune, hence in no département; points in the Gard are
    # outside the départements PACA's contours cover: the distances are those of points
    # in the covered départements
    departements = departement_of_commune(found.commune)
    located = (found.error == None) & np.isin(departements, list(  # noqa: E711
        index.layers[2024].coverage))
    assert (result.quality[~located] == "non couvert").any()
    outside = located & (result.code == None)  # noqa: E711
    within_reach = outside & (gap <= index.reach)
    assert np.allclose(result.distance[within_reach], gap[within_reach], rtol=1e-9, atol=1e-6)
    assert (result.nearest[within_reach] == nearest[within_reach]).all()
    assert np.isnan(result.distance[outside & (gap > index.reach)]).all()
    inside = result.code != None  # noqa: E711
    communes = index.layers[2024].communes
    expected = np.where(inside, "dans un QPV", np.where(
        gap < 300, "< 300 m", np.where(gap < 500, "< 500 m", np.where(
            gap < 1000, "< 1 km", np.where(pd.Series(found.commune).isin(communes),
                                           "commune avec QPV", "ailleurs")))))
    known = located & (found.commune != None)  # noqa: E711
    assert (result.band[known] == expected[known]).all()
    assert set(result.band[known]) == {"dans un QPV", "< 300 m", "< 500 m", "< 1 km",
                                       "commune avec QPV", "ailleurs"}
    # « < 500 m » is now 300 to 500 m only
    assert (gap[known & (result.band == "< 500 m")] >= 300).all()
    assert ((result.band == "< 300 m") & known).sum() > 50


# -- boundary points ------------------------------------------------------------------


def normal_points(contours: gpd.GeoDataFrame, offsets: list[float]) -> tuple:
    """Points at ``offsets`` metres (positive inside) from the middle of long border
    segments, along the normal, in Lambert-93; and the QPV row of each."""
    polygons = contours.to_crs("EPSG:2154").geometry.to_numpy()
    xs, ys, rows, offset_of = [], [], [], []
    for row, polygon in enumerate(polygons):
        ring = np.asarray(shapely.get_exterior_ring(
            max(shapely.get_parts(polygon), key=shapely.area)).coords)
        start, end = ring[:-1], ring[1:]
        length = np.hypot(*(end - start).T)
        for k in np.flatnonzero(length > 60)[:3]:  # three long segments per QPV
            middle = (start[k] + end[k]) / 2
            normal = np.array([-(end[k] - start[k])[1], (end[k] - start[k])[0]]) / length[k]
            if not shapely.contains_xy(polygon, *(middle + 0.5 * normal)):
                normal = -normal
            if not shapely.contains_xy(polygon, *(middle + 0.5 * normal)):
                continue
            for offset in offsets:
                xs.append(middle[0] + offset * normal[0])
                ys.append(middle[1] + offset * normal[1])
                rows.append(row)
                offset_of.append(offset)
    lon, lat = TO_WGS84.transform(np.array(xs), np.array(ys))
    return lon, lat, np.array(rows), np.array(offset_of)


@pytest.mark.parametrize(("relative", "code", "generation"),
                         [(OCCITANIE, "code_qp", 2015), (PACA_2024, "q", 2024)])
def test_points_near_a_border_are_probable(index: QpvIndex, relative: str, code: str,
                                           generation: int) -> None:
    contours = original(relative)
    lon, lat, rows, offsets = normal_points(contours, [-8.0, -3.0, 3.0, 8.0])
    assert len(lon) > 200
    result = index.locate(lon, lat).generations[generation]
    assert (result.quality == "probable").all()
    # inside or outside as an exact point-in-polygon test says (3 m and 8 m inside the
    # border of a long straight segment is inside its QPV)
    expected = exact_within(lon, lat, contours, code)
    assert (result.code == expected).all()
    inside = offsets > 0
    assert (expected[inside] == contours[code].to_numpy()[rows[inside]]).mean() > 0.98
    assert (result.band[result.code == None] == "< 300 m").all()  # noqa: E711
    # with a 5 m tolerance, 8 m away is no longer probable
    strict = index.locate(lon, lat, tolerance=5.0).generations[generation]
    assert (strict.quality[np.abs(offsets) == 3] == "probable").all()
    far = (np.abs(offsets) == 8) & (border_distance(lon, lat, contours) > 5)
    assert set(strict.quality[far]) <= {"sûr", "hors QPV"}


@pytest.mark.parametrize(("relative", "generation"), [(OCCITANIE, 2015), (PACA_2024, 2024)])
def test_points_250_m_and_400_m_out_of_a_border(index: QpvIndex, relative: str,
                                                generation: int) -> None:
    """Real borders, points offset along the outward normal in Lambert-93: 250 m out is
    « < 300 m » (the school threshold), 400 m out « < 500 m »."""
    contours = original(relative)
    lon, lat, _, offsets = normal_points(contours, [-250.0, -400.0])
    result = index.locate(lon, lat).generations[generation]
    polygons = contours.to_crs("EPSG:2154").geometry.to_numpy()
    points = shapely.points(*TO_L93.transform(lon, lat))
    gap = shapely.distance(points[:, None], polygons[None, :]).min(axis=1)
    # points whose nearest QPV is the border they were offset from, in covered
    # départements (not at sea, not in a département without loaded contours)
    clean = (np.abs(gap + offsets) < 0.01) & (result.quality == "hors QPV")
    for offset, band in ((-250.0, "< 300 m"), (-400.0, "< 500 m")):
        chosen = clean & (offsets == offset)
        assert chosen.sum() > 40, (offset, chosen.sum())
        assert np.allclose(result.distance[chosen], -offset, atol=0.01)
        assert (result.band[chosen] == band).all(), set(result.band[chosen])
    # and whatever their nearest QPV, every covered point is in the band of its distance
    measured = result.quality == "hors QPV"
    assert (result.band[measured & (gap < 300)] == "< 300 m").all()
    assert (result.band[measured & (gap >= 300) & (gap < 500)] == "< 500 m").all()


def test_bands_are_one_table_of_thresholds() -> None:
    assert BANDS == ("dans un QPV", "< 300 m", "< 500 m", "< 1 km", "commune avec QPV",
                     "ailleurs")
    assert BAND_THRESHOLDS == ((300.0, "< 300 m"), (500.0, "< 500 m"), (1000.0, "< 1 km"))
    assert [band for _, band in BAND_THRESHOLDS] == list(BANDS[1:4])


def test_band_thresholds_are_excluded() -> None:
    """A square QPV drawn in Lambert-93 (Montpellier), points just under and just over
    each threshold east of it: each band stops short of its threshold."""
    x0, y0, side = 770_000.0, 6_279_000.0, 400.0
    square = shapely.Polygon(np.column_stack(TO_WGS84.transform(
        [x0, x0 + side, x0 + side, x0, x0], [y0, y0, y0 + side, y0 + side, y0])))
    layer = QpvLayer(2024, np.array(["QN03499M"]), np.array(["Carré"]), np.array([square]),
                     coverage=NATIONAL)
    square_index = QpvIndex([layer])
    gaps = np.array([0.5, 250.0, 299.99, 300.01, 400.0, 499.99, 500.01, 999.99, 1000.01])
    lon, lat = TO_WGS84.transform(x0 + side + gaps, np.full(len(gaps), y0 + side / 2))
    result = square_index.locate(lon, lat).generations[2024]
    assert np.allclose(result.distance, gaps, atol=1e-4)
    # without commune contours, 1 km or more away has no band
    assert result.band.tolist() == ["< 300 m", "< 300 m", "< 300 m", "< 500 m", "< 500 m",
                                    "< 500 m", "< 1 km", "< 1 km", None]


def border_distance(lon: np.ndarray, lat: np.ndarray, contours: gpd.GeoDataFrame) -> np.ndarray:
    borders = shapely.boundary(contours.to_crs("EPSG:2154").geometry.to_numpy())
    points = shapely.points(*TO_L93.transform(lon, lat))
    return shapely.distance(points[:, None], borders[None, :]).min(axis=1)


# -- coordinates in a projected CRS ---------------------------------------------------


def test_lambert_93_coordinates_give_the_same_results(index: QpvIndex,
                                                      dvf: pd.DataFrame) -> None:
    lon, lat = dvf["longitude"].to_numpy(), dvf["latitude"].to_numpy()
    x, y = TO_L93.transform(lon, lat)
    projected = index.locate_xy(x, y, "EPSG:2154")
    geographic = index.locate(lon, lat)
    assert (projected.commune == geographic.commune).all()
    for generation in index.generations:
        a, b = projected.generations[generation], geographic.generations[generation]
        # a sale lying exactly on a border (both on the 1e-4° grid) may cross it by a
        # hair on the way to Lambert-93 and back
        on_border = (b.code == None) & (b.distance < 1e-3)  # noqa: E711
        assert on_border.sum() < 0.02 * len(lon)
        assert (a.code[~on_border] == b.code[~on_border]).all()
        assert (a.band[~on_border] == b.band[~on_border]).all()
        assert (a.quality == b.quality).all()  # both are "probable" on a border
        assert np.allclose(a.distance, b.distance, atol=1e-3, equal_nan=True)
    swapped = index.locate_xy(y[:10], x[:10], "EPSG:2154")
    assert (swapped.error == ERROR_SWAPPED_XY).all()


def test_overseas_point_uses_its_own_crs_and_commune(index: QpvIndex) -> None:
    # Saint-Denis de La Réunion, in RGR92 / UTM 40S and in longitude/latitude
    lon, lat = np.array([55.4481]), np.array([-20.8821])
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:2975", always_xy=True).transform(lon, lat)
    for found in (index.locate(lon, lat), index.locate_xy(x, y, "EPSG:2975")):
        assert found.error.tolist() == [None]
        assert found.commune.tolist() == ["97411"]
        # La Réunion has 2024 QPV (national lookup) whose contours are not loaded; no
        # 2015 contour file covers it either
        for generation in (2015, 2024):
            assert found.generations[generation].quality.tolist() == ["non couvert"]
            assert found.generations[generation].band.tolist() == [None]


def test_points_in_departements_without_loaded_contours_are_not_covered(
        index: QpvIndex, dvf: pd.DataFrame) -> None:
    found = index.locate(dvf["longitude"].to_numpy(), dvf["latitude"].to_numpy())
    result = found.generations[2024]
    # Occitanie's sales against PACA's 2024 contours: a sale in a commune that has a 2024
    # QPV (the national list says so) is not covered; one in a commune without any is
    # « hors QPV », a fact, but how far the nearest QPV lies is not known
    listed = pd.Series(found.commune).isin(index.layers[2024].listed).to_numpy()
    assert 0 < listed.mean() < 1
    assert (result.quality[listed] == "non couvert").all()
    assert (result.quality[~listed] == "hors QPV").all()
    assert np.isnan(result.distance).all() and (result.band == None).all()  # noqa: E711
    assert (result.nearest == None).all()  # noqa: E711


def test_layers_say_what_they_cover(index: QpvIndex) -> None:
    # recorded at import: the départements of the QPV of each file
    assert index.layers[2015].coverage == {"09", "11", "12", "13", "30", "31", "32", "34",
                                           "46", "65", "66", "81", "82"}
    assert index.layers[2024].coverage == {"04", "05", "06", "13", "83", "84"}
    assert index.layers[2015].listed is None  # no national list of 2015
    assert {"34172", "75056", "97411"} <= index.layers[2024].listed


# -- bad coordinates ------------------------------------------------------------------


def test_bad_coordinates_are_explained_point_by_point(index: QpvIndex) -> None:
    lon = np.array([3.8767, 43.6108, 3.8767, 200.0, np.nan, -3.7038, 3.8767])
    lat = np.array([43.6108, 3.8767, 95.0, 43.6108, 43.6, 40.4168, 43.6108])
    found = index.locate(lon, lat)
    assert found.error.tolist() == [None, ERROR_SWAPPED, ERROR_LATITUDE_RANGE,
                                    ERROR_LONGITUDE_RANGE, ERROR_MISSING, ERROR_OUTSIDE, None]
    assert found.commune.tolist() == ["34172", None, None, None, None, None, "34172"]
    for result in found.generations.values():
        assert (result.quality[1:6] == None).all()  # noqa: E711
        assert (result.band[1:6] == None).all()  # noqa: E711
        assert np.isnan(result.distance[1:6]).all()


def test_invalid_parameters(index: QpvIndex, qpv_warehouse_file: Path) -> None:
    with pytest.raises(CohesionError, match="tolérance"):
        index.locate(np.array([3.87]), np.array([43.61]), tolerance=-1)
    with pytest.raises(CohesionError, match="pas de QPV de 2030"):
        index.within(np.array([3.87]), np.array([43.61]), 2030)
    with pytest.raises(CohesionError, match="aucun contour"):
        QpvIndex([])
    layer = index.layers[2024]
    with pytest.raises(CohesionError, match="portée"):
        QpvIndex([layer], reach=500)
    with Warehouse(qpv_warehouse_file, read_only=True) as warehouse, \
            pytest.raises(CohesionError, match="importés : 2015, 2024"):
        QpvIndex.from_warehouse(warehouse, generations=[2030])


def test_an_empty_warehouse_has_no_qpv_to_index(built_warehouse_file: Path) -> None:
    with Warehouse(built_warehouse_file, read_only=True) as warehouse, \
            pytest.raises(CohesionError, match="cohesion import qpv"):
        QpvIndex.from_warehouse(warehouse)


def test_the_index_survives_pickling(index: QpvIndex, dvf: pd.DataFrame) -> None:
    lon, lat = dvf["longitude"].to_numpy()[:2000], dvf["latitude"].to_numpy()[:2000]
    copy = pickle.loads(pickle.dumps(index))
    a, b = index.locate(lon, lat).to_frame(), copy.locate(lon, lat).to_frame()
    pd.testing.assert_frame_equal(a, b)


# -- the commune → QPV lookup ---------------------------------------------------------


def test_commune_lookup_of_2024() -> None:
    found = read_communes_with_qpv(shared(LOOKUP_2024))
    assert set(found["generation"]) == {2024}
    assert found["qpv"].nunique() == 1_343 and found["commune"].nunique() == 692
    assert set(found.loc[found["commune"] == "01053", "qpv"]) == {"QN00101M", "QN00102M"}


def test_commune_lookup_with_a_bad_code(tmp_path: Path) -> None:
    features = [{"type": "Feature", "geometry": None,
                 "properties": {"insee_com": "01053", "code_qp": code}}
                for code in ("QN00101M, QN00102M", "QN00103M, XX123")]
    path = tmp_path / "lookup.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(InputFileError, match="n'est pas un code de QPV") as raised:
        read_communes_with_qpv(path)
    assert raised.value.found == "XX123"


# -- the grid indexes against brute force ---------------------------------------------


def random_polygons(rng: np.random.Generator, count: int) -> np.ndarray:
    centres = rng.uniform(0, 1000, (count, 2))
    return shapely.buffer(shapely.points(centres), rng.uniform(5, 60, count), quad_segs=3)


def test_containment_grid_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    polygons = random_polygons(rng, 300)  # they overlap: the lowest index wins
    x, y = rng.uniform(-50, 1050, 20_000), rng.uniform(-50, 1050, 20_000)
    inside = shapely.contains_xy(polygons[:, None], x[None, :], y[None, :])
    expected = np.where(inside.any(axis=0), inside.argmax(axis=0), -1)
    for size in (7.0, 40.0, 300.0):
        assert (ContainmentGrid(polygons, size).locate(x, y) == expected).all()
    for size, region_size in ((40.0, 2.0), (40.0, 10.0), (300.0, 37.0)):
        grid = ContainmentGrid(polygons, size, region_size)
        assert (grid.locate(x, y) == expected).all()
        assert ((grid.answers >= 0).any() and (grid.answers == -1).any()
                and (grid.answers == -2).any())


def test_containment_regions_on_shared_borders() -> None:
    """Points on a border, on a corner, a hair's breadth from it: as GEOS says."""
    squares = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10),
                        shapely.box(0, 10, 10, 20),
                        shapely.Polygon([(12, 12), (18, 12), (18, 18)])])  # a long side
    tiny = np.nextafter(10.0, 11.0) - 10.0
    x = np.array([10.0, 10.0, 10 - tiny, 10 + tiny, 5.0, 15.0, 15.0, 16.0, 15.0, 12.0])
    y = np.array([5.0, 10.0, 5.0, 5.0, 10.0, 12.0, 14.0, 13.0, 16.0, 12.0])
    expected = [-1, -1, 0, 1, -1, -1, 3, 3, -1, -1]
    for region_size in (1.0, 2.5, 5.0, 0.3):
        assert ContainmentGrid(squares, 4.0, region_size).locate(x, y).tolist() == expected


def test_nearest_grid_matches_brute_force() -> None:
    rng = np.random.default_rng(4)
    # overlapping rings, and two squares sharing a side (points as near to both)
    polygons = shapely.boundary(np.concatenate([
        random_polygons(rng, 200), [shapely.box(500, 500, 600, 600),
                                    shapely.box(600, 500, 700, 600)]]))
    x = np.r_[rng.uniform(-400, 1400, 20_000), 600, 600, 650, 599.5]
    y = np.r_[rng.uniform(-400, 1400, 20_000), 550, 620, 490, 550]
    gaps = shapely.distance(shapely.points(x, y)[:, None], polygons[None, :])
    for size, reach in ((25.0, 150.0), (100.0, 1000.0), (2000.0, 5000.0)):
        index, distance = NearestGrid(polygons, size, reach).nearest(x, y)
        near = gaps.min(axis=1) <= reach
        # to the last bit what GEOS says, and the lowest index among the nearest
        assert (distance[near] == gaps.min(axis=1)[near]).all()
        assert (index[near] == gaps[near].argmin(axis=1)).all()
        assert (index[~near] == -1).all() and np.isinf(distance[~near]).all()


def test_layers_built_from_arrays() -> None:
    square = shapely.box(5.37, 43.29, 5.38, 43.30)  # Marseille
    layer = QpvLayer(2024, np.array(["QN01399M"]), np.array(["Carré"]), np.array([square]))
    found = QpvIndex([layer]).locate(np.array([5.375, 5.5]), np.array([43.295, 43.295]))
    assert found.commune is None and found.vintage is None
    result = found.generations[2024]
    assert result.code.tolist() == ["QN01399M", None]
    assert result.band.tolist() == ["dans un QPV", None]  # no communes: band unknown
    # no coverage given: outside the QPV is not known to be « hors QPV »
    assert result.quality.tolist() == ["sûr", "non couvert"]
    national = QpvIndex([QpvLayer(2024, layer.codes, layer.names, layer.geometries,
                                  coverage=NATIONAL)])
    assert national.locate(np.array([5.5]), np.array([43.295])).generations[
        2024].quality.tolist() == ["hors QPV"]
    assert list(found.to_frame().columns) == QpvIndex([layer]).columns()


def test_owners_repeats_positions_as_numpy_does() -> None:
    counts = np.random.default_rng(5).integers(0, 4, 1_000)
    counts[:3] = 0  # leading owners without items
    assert (owners(counts) == np.repeat(np.arange(len(counts)), counts)).all()
    assert len(owners(np.zeros(4, dtype=np.int64))) == 0 and len(owners(np.zeros(0, int))) == 0
