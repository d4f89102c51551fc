"""Locate the points of a CSV or Parquet file, streaming, in constant memory.

:func:`locate_file` reads the file in chunks, locates each chunk's points with a
:class:`~cohesion.geo.locate.QpvIndex` and appends the chunk, with the result columns
added, to the output file. Every input row and column is kept, in order; a row whose
coordinates cannot be used keeps its place with an explanation in the ``erreur``
column. The output is written next to its final name and moved there once complete, so
a failed run leaves no half-written file.

CSV files are read as text (the separator and the encoding are detected, a decimal
comma is accepted in coordinates) and written in UTF-8 with the same separator;
Parquet files keep their column types. The input and output formats follow the file
extensions (``.parquet``/``.pq`` or anything else for CSV).

Chunks are Arrow tables: read by Arrow's CSV reader (pandas' reads again a file Arrow
refuses, to name the bad line or keep a short row), parsed and written column by column
(:mod:`cohesion.geo.columnar`), located ahead on :data:`LOCATING_THREADS` threads while
the main thread writes, in order. Addresses go through pandas frames (the geocoder sets
the pace).

The same chunks can be processed on a Dask cluster: see :mod:`cohesion.geo.distributed`.
"""

from __future__ import annotations

import base64
import csv
import io
import operator
import os
import shutil
import tempfile
import threading
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from pyproj import CRS
from pyproj.exceptions import CRSError

from cohesion.errors import CohesionError, InputFileError
from cohesion.geo.columnar import POOL, SourceCache, csv_lines, parse_numbers
from cohesion.geo.geocoding import (
    DEFAULT_MIN_SCORE,
    GEOCODING_COLUMNS,
    GEOCODING_QUALITIES,
    NUMERIC_GEOCODING_COLUMNS,
    Geocoder,
    geocode_frame,
)
from cohesion.geo.locate import (
    BANDS,
    DEFAULT_TOLERANCE,
    NOT_COVERED,
    QUALITIES,
    UNKNOWN_DEPARTEMENT,
    Location,
    QpvIndex,
    commune_column,
)
from cohesion.importers.reading import (
    MAX_LINE_BYTES,
    check_column_count,
    check_line_lengths,
    detect_encoding,
    detect_separator,
    is_utf16,
    transcode_to_utf8,
)
from cohesion.spreadsheet import neutralise_text

PARQUET_SUFFIXES = {".parquet", ".pq"}
#: Most columns of a file of points (CSV or Parquet), refused before it is read.
MAX_POINT_FILE_COLUMNS = 1_000
DEFAULT_CHUNK_ROWS = 100_000
_SNIFF_BYTES = 1 << 16
#: Bytes Arrow's CSV reader parses at a time: few, so that the first chunk is soon
#: ready. A longer row (the second line may hold :data:`MAX_LINE_BYTES`) makes Arrow
#: refuse the file, which pandas' reader then reads.
_CSV_BLOCK_BYTES = MAX_LINE_BYTES + _SNIFF_BYTES
_PARSING = threading.Lock()

T = TypeVar("T")
R = TypeVar("R")

#: Called with the number of rows done so far.
Progress = Callable[[int], None]


#: The names of the fields of :class:`PointColumns` in messages, by default (those of
#: the API); the command line gives its options' instead (``--lon``…).
FIELD_NAMES = {"lon": "lon", "lat": "lat", "x": "x", "y": "y", "crs": "crs",
               "addresses": "adresse"}


def check_crs(crs: str) -> str:
    """Return ``crs`` if PROJ knows it as a system of horizontal coordinates.

    Raises
    ------
    CohesionError
        For a name PROJ does not know (``notacrs``, ``EPSG:99999999``), or a system
        that is not one of horizontal coordinates (a vertical or geocentric one).

    Examples
    --------
    >>> check_crs("EPSG:2154")
    'EPSG:2154'
    >>> check_crs("EPSG:99999999")
    Traceback (most recent call last):
    ...
    cohesion.errors.CohesionError: système de coordonnées inconnu : 'EPSG:99999999' (attendu
    un code EPSG, par exemple EPSG:2154 pour Lambert-93 ou EPSG:4326 pour WGS 84)
    """
    expected = "un code EPSG, par exemple EPSG:2154 pour Lambert-93 ou EPSG:4326 pour WGS 84"
    try:
        system = CRS.from_user_input(crs)
    except CRSError:
        raise CohesionError(f"système de coordonnées inconnu : {crs!r} (attendu {expected})"
                            ) from None
    if not (system.is_projected or system.is_geographic):
        raise CohesionError(f"{crs!r} n'est pas un système de coordonnées horizontales "
                            f"({system.type_name}) : attendu {expected}")
    return crs


@dataclass(frozen=True)
class PointColumns:
    """The input columns holding the coordinates of the points, or their addresses.

    Either ``lon`` and ``lat`` (WGS84 degrees), or ``x``, ``y`` and the ``crs`` they are
    in (``EPSG:2154``…), or ``addresses``: the columns making up an address, joined in
    this order (number and street, postcode, city…) and geocoded.

    ``field_names`` says how the interface that builds it names these fields in its
    messages (:data:`FIELD_NAMES` by default; ``--lon``… on the command line).

    Raises
    ------
    CohesionError
        For any other combination, or a ``crs`` PROJ does not know (:func:`check_crs`).

    Examples
    --------
    >>> PointColumns(lon="longitude", lat="latitude").names
    ('longitude', 'latitude')
    >>> PointColumns(x="X", y="Y", crs="EPSG:2154").roles
    ('x', 'y')
    >>> PointColumns(addresses=("voie", "code_postal", "commune")).required[-1]
    ('commune', 'adresse')
    >>> PointColumns(lon="longitude")
    Traceback (most recent call last):
    ...
    cohesion.errors.CohesionError: donner les colonnes de longitude et de latitude (lon,
    lat), ou bien les colonnes x et y et leur système de coordonnées (x, y, crs), ou bien
    les colonnes de l'adresse (adresse, répétable)
    """

    lon: str | None = None
    lat: str | None = None
    x: str | None = None
    y: str | None = None
    crs: str | None = None
    addresses: tuple[str, ...] = ()
    field_names: Mapping[str, str] = field(default_factory=lambda: dict(FIELD_NAMES),
                                           compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "addresses", tuple(self.addresses))
        geographic = self.lon is not None and self.lat is not None
        projected = self.x is not None and self.y is not None and self.crs is not None
        given = [geographic, projected, bool(self.addresses)]
        partial = (geographic and (self.x or self.y or self.crs)) or (
            self.addresses and (self.lon or self.lat or self.x or self.y or self.crs))
        if sum(given) != 1 or partial:
            named = {key: self.field_names.get(key, key) for key in FIELD_NAMES}
            raise CohesionError(
                "donner les colonnes de longitude et de latitude ({lon}, {lat}), ou bien les "
                "colonnes x et y et leur système de coordonnées ({x}, {y}, {crs}), ou bien "
                "les colonnes de l'adresse ({addresses}, répétable)".format(**named))
        if self.crs is not None:
            check_crs(self.crs)

    @property
    def geocoded(self) -> bool:
        """Whether the points come from addresses to geocode."""
        return bool(self.addresses)

    @property
    def required(self) -> list[tuple[str, str]]:
        """Every input column needed, with what it holds (in French)."""
        if self.addresses:
            return [(name, "adresse") for name in self.addresses]
        return list(zip(self.names, self.roles, strict=True))

    @property
    def names(self) -> tuple[str, str]:
        """The two coordinate column names, easting (longitude or x) first."""
        if self.addresses:
            raise CohesionError("des adresses, et non des coordonnées, sont données")
        if self.lon is not None and self.lat is not None:
            return self.lon, self.lat
        assert self.x is not None and self.y is not None
        return self.x, self.y

    @property
    def roles(self) -> tuple[str, str]:
        """What the two columns hold, in French: ``longitude, latitude`` or ``x, y``."""
        return ("longitude", "latitude") if self.lon is not None else ("x", "y")


@dataclass
class BatchSummary:
    """What a batch did.

    Attributes
    ----------
    rows : int
        Rows written (every input row).
    errors : int
        Rows that could not be located (see their ``erreur`` column).
    inside : dict of int to int
        Rows inside a QPV, by generation.
    qualities : dict of int to dict of str to int
        Rows by quality class, by generation.
    bands : dict of int to dict of str to int
        Rows by ONPV band, by generation, every band in the order of
        :data:`~cohesion.geo.locate.BANDS` (nearest first); rows without a band (in
        error, not covered…) are not counted.
    not_covered : dict of int to dict of str to int
        Rows ``non couvert``, by generation and département of their commune
        (:data:`~cohesion.geo.locate.UNKNOWN_DEPARTEMENT` for rows in no commune
        contour); only the départements having such rows.
    geocoding : dict of str to int
        Rows by geocoding quality (``bon``, ``incertain``, ``introuvable``), when
        addresses were geocoded; empty otherwise.
    output : Path
        The file written.
    """

    output: Path
    rows: int = 0
    errors: int = 0
    inside: dict[int, int] = field(default_factory=dict)
    qualities: dict[int, dict[str, int]] = field(default_factory=dict)
    bands: dict[int, dict[str, int]] = field(default_factory=dict)
    not_covered: dict[int, dict[str, int]] = field(default_factory=dict)
    geocoding: dict[str, int] = field(default_factory=dict)

    def add(self, results: pa.Table, generations: tuple[int, ...]) -> None:
        """Count the rows of one chunk of results (see :func:`result_table`)."""
        self.rows += results.num_rows
        self.errors += results.num_rows - results["erreur"].null_count
        if "qualite_geocodage" in results.column_names:
            counts = _value_counts(results["qualite_geocodage"])
            for quality in GEOCODING_QUALITIES:
                self.geocoding[quality] = self.geocoding.get(quality, 0) + counts.get(quality, 0)
        communes = commune_column(results.column_names)
        for g in generations:
            self.inside[g] = self.inside.get(g, 0) + results.num_rows - \
                results[f"qpv_{g}"].null_count
            quality = results[f"qualite_qpv_{g}"]
            counts = _value_counts(quality)
            totals = self.qualities.setdefault(g, dict.fromkeys(QUALITIES, 0))
            for name in QUALITIES:
                totals[name] += counts.get(name, 0)
            counts = _value_counts(results[f"bande_onpv_{g}"])
            totals = self.bands.setdefault(g, dict.fromkeys(BANDS, 0))
            for band in BANDS:
                totals[band] += counts.get(band, 0)
            uncovered = pc.coalesce(_equal(quality, NOT_COVERED), False, memory_pool=POOL)
            _add_counts(self.not_covered.setdefault(g, {}), _departement_counts(
                None if communes is None else pc.filter(results[communes], uncovered,
                                                        memory_pool=POOL),
                pc.sum(uncovered).as_py() or 0))

    def merge(self, other: BatchSummary) -> None:
        """Add the counts of ``other`` (those of a later chunk) to these."""
        self.rows += other.rows
        self.errors += other.errors
        _add_counts(self.geocoding, other.geocoding)
        _add_counts(self.inside, other.inside)
        for mine, theirs in ((self.qualities, other.qualities), (self.bands, other.bands),
                             (self.not_covered, other.not_covered)):
            for g, counts in theirs.items():
                _add_counts(mine.setdefault(g, {}), counts)

    def covered(self, generation: int) -> int:
        """Rows whose answer for ``generation`` is known: in a QPV, or « hors QPV »."""
        counts = self.qualities.get(generation, {})
        return sum(n for quality, n in counts.items() if quality != NOT_COVERED)

    def share_inside(self, generation: int) -> float:
        """Share of the covered rows located inside a QPV of ``generation``.

        Rows ``non couvert`` (and rows in error) are left out: whether they are in a QPV
        is not known. 0 when no row is covered.
        """
        covered = self.covered(generation)
        return self.inside.get(generation, 0) / covered if covered else 0.0


def _add_counts(totals: dict, counts: Mapping) -> None:
    for key, count in counts.items():
        totals[key] = totals.get(key, 0) + count


def _equal(values: pa.Array | pa.ChunkedArray, text: str) -> pa.Array | pa.ChunkedArray:
    """Whether each value is ``text`` (null for null).

    A dictionary-encoded column is compared through its dictionary, each distinct
    value once.
    """
    if not pa.types.is_dictionary(values.type):
        return pc.equal(values, text, memory_pool=POOL)
    return pa.chunked_array([pc.take(pc.equal(chunk.dictionary, text), chunk.indices,
                                     memory_pool=POOL)
                             for chunk in _chunks(values)], pa.bool_())


def _chunks(values: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    """The arrays of a chunked array, or the array alone."""
    return values.chunks if isinstance(values, pa.ChunkedArray) else [values]


def _value_counts(values: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """How many times each value occurs (nulls left out)."""
    if pa.types.is_dictionary(values.type):  # (result columns) by their codes, no hashing
        counts: dict[str, int] = {}
        for chunk in _chunks(values):
            found = np.bincount(pc.drop_null(chunk.indices, memory_pool=POOL).to_numpy(),
                                minlength=len(chunk.dictionary))
            for value, count in zip(chunk.dictionary.to_pylist(), found.tolist(), strict=True):
                if count and value is not None:
                    counts[value] = counts.get(value, 0) + count
        return counts
    counted = pc.value_counts(values)
    return {value: count for value, count in zip(counted.field("values").to_pylist(),
                                                 counted.field("counts").to_pylist(),
                                                 strict=True) if value is not None}


def _departement_counts(communes: pa.Array | pa.ChunkedArray | None,
                       rows: int) -> dict[str, int]:
    """How many of ``rows`` rows lie in each département, by their commune's code.

    The départements are told for each distinct commune, not row by row. Rows without
    a commune (or every row, ``communes`` being None) are :data:`UNKNOWN_DEPARTEMENT`.
    """
    counts: dict[str, int] = {}
    known = 0
    if communes is not None:
        counted = pc.value_counts(communes, memory_pool=POOL)
        codes = pc.cast(counted.field("values"), pa.string())
        departements = pc.dictionary_encode(pc.if_else(
            pc.starts_with(codes, "97"), pc.utf8_slice_codeunits(codes, 0, 3),
            pc.utf8_slice_codeunits(codes, 0, 2)))
        valid = pc.is_valid(codes).to_numpy(zero_copy_only=False)
        rows_of = np.bincount(pc.fill_null(departements.indices, 0).to_numpy()[valid],
                              counted.field("counts").to_numpy()[valid],
                              len(departements.dictionary))
        counts = {departement: int(n) for departement, n in
                  zip(departements.dictionary.to_pylist(), rows_of, strict=True) if n}
        known = sum(counts.values())
    if rows > known:
        counts[UNKNOWN_DEPARTEMENT] = rows - known
    return counts


# -- coordinates ----------------------------------------------------------------------


def parse_coordinates(values: pd.Series | pa.Array | pa.ChunkedArray,
                      role: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse a column of coordinates; explain each value that is not a number.

    Parameters
    ----------
    values : Series or Arrow array
        Numbers, or text (a decimal comma is accepted; spaces are ignored).
    role : str
        What the column holds, for the messages (``longitude``…).

    Returns
    -------
    numbers : ndarray of float
        NaN where the value is not a number.
    errors : ndarray of object
        None, or ``longitude vide`` / ``longitude non numérique : 'abc'``.

    Examples
    --------
    >>> numbers, errors = parse_coordinates(pd.Series(["2,35", " 48.8 ", "", "nord"]), "x")
    >>> numbers.tolist()[:2], errors.tolist()
    ([2.35, 48.8], [None, None, 'x vide', "x non numérique : 'nord'"])
    """
    column = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(
        values, from_pandas=True)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode() if isinstance(column, pa.Array) else \
            pa.chunked_array([chunk.dictionary_decode() for chunk in column.chunks])
    errors = np.full(len(column), None, dtype=object)
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind) \
            or pa.types.is_null(kind):
        numbers = pc.cast(column, pa.float64(), memory_pool=POOL).to_numpy(
            zero_copy_only=False).astype(float)
        errors[np.isnan(numbers)] = f"{role} vide"
        return numbers, errors
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        column = pc.cast(column, pa.string())
    numbers, others = parse_numbers(column)
    if len(others):  # not plain numbers: looked at one by one, to explain them
        numbers[others], errors[others] = _parse_other_text(
            column.take(pa.array(others)).to_pandas(), role)
    return numbers, errors


def _parse_other_text(values: pd.Series, role: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parse_coordinates` for text that is not a plain number (spaces, ``inf``…)."""
    errors = np.full(len(values), None, dtype=object)
    text = values.astype(object).where(values.notna(), "").astype(str)
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    unparsed = np.flatnonzero(np.isnan(numbers))
    if len(unparsed):
        rest = text.iloc[unparsed].str.replace(r"[\s\u00a0\u202f]", "", regex=True)
        numbers[unparsed] = pd.to_numeric(rest.str.replace(",", ".", regex=False),
                                          errors="coerce").to_numpy(dtype=float,
                                                                    na_value=np.nan)
        bad = np.isnan(numbers[unparsed])
        empty = (rest == "").to_numpy()
        errors[unparsed[bad & empty]] = f"{role} vide"
        errors[unparsed[bad & ~empty]] = [f"{role} non numérique : {value!r}"
                                          for value in text.iloc[unparsed[bad & ~empty]]]
    return numbers, errors


def locate_points(index: QpvIndex, first: pd.Series | pa.Array | pa.ChunkedArray,
                  second: pd.Series | pa.Array | pa.ChunkedArray, columns: PointColumns,
                  tolerance: float = DEFAULT_TOLERANCE) -> Location:
    """Locate the points of two coordinate columns (easting first), text or numbers.

    A row whose coordinates are empty or not numbers gets the reason as its error (both
    reasons when both coordinates are bad), rather than the one :meth:`QpvIndex.locate`
    would give.
    """
    first_role, second_role = columns.roles
    a, a_errors = parse_coordinates(first, first_role)
    b, b_errors = parse_coordinates(second, second_role)
    if columns.crs is None:
        location = index.locate(a, b, tolerance)
    else:
        location = index.locate_xy(a, b, columns.crs, tolerance)
    for row in np.flatnonzero(np.isnan(a) | np.isnan(b)):  # (the only rows with reasons)
        location.error[row] = " ; ".join(e for e in (a_errors[row], b_errors[row]) if e)
    return location


def result_table(results: Location | pd.DataFrame) -> pa.Table:
    """Result columns as Arrow: distances and geocoding scores as floats, the rest text.

    The text of a :class:`~cohesion.geo.locate.Location` is dictionary-encoded from its
    codes: no Python string is read row by row, and each distinct value is written once
    (:func:`~cohesion.geo.columnar.csv_lines`).
    """
    values = results.coded_columns() if isinstance(results, Location) else {
        name: results[name].to_numpy() for name in results.columns}
    arrays = {}
    for name, column in values.items():
        if isinstance(column, tuple):
            codes, texts = column
            arrays[name] = pa.DictionaryArray.from_arrays(_indices(codes), _arrow_text(texts),
                                                          safe=False)  # (codes in range)
            continue
        numeric = name.startswith("distance_") or name in NUMERIC_GEOCODING_COLUMNS
        arrays[name] = pa.array(column, type=pa.float64() if numeric else pa.string(),
                                from_pandas=True, memory_pool=POOL)
    return pa.table(arrays)


def _indices(codes: np.ndarray) -> pa.Array:
    """Codes as Arrow int32 indices, null where -1, made from their bytes."""
    valid = codes >= 0
    return pa.Array.from_buffers(pa.int32(), len(codes), [
        pa.py_buffer(np.packbits(valid, bitorder="little")),
        pa.py_buffer(np.where(valid, codes, 0).astype(np.int32))])


#: Arrow copies of the index's text arrays (QPV codes and names, commune codes…), by
#: identity: converted once, not once a chunk.
_ARROW_TEXTS: SourceCache[np.ndarray, pa.Array] = SourceCache(operator.is_)


def _arrow_text(values: np.ndarray) -> pa.Array:
    """``values`` (an object array of text, None or NaN) as an Arrow string array."""
    return _ARROW_TEXTS.get(id(values), values, lambda known: pa.array(
        known, type=pa.string(), from_pandas=True))


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with its dictionary-encoded columns as their values' type."""
    return pa.schema([field.with_type(field.type.value_type)
                      if pa.types.is_dictionary(field.type) else field for field in schema])


def locate_table(index: QpvIndex, table: pa.Table, columns: PointColumns,
                 tolerance: float = DEFAULT_TOLERANCE) -> pa.Table:
    """The result columns (:func:`result_table`) for the points of one Arrow chunk."""
    first, second = columns.names
    return result_table(locate_points(index, table[first], table[second], columns, tolerance))


def locate_frame(index: QpvIndex, frame: pd.DataFrame, columns: PointColumns,
                 tolerance: float = DEFAULT_TOLERANCE, geocoder: Geocoder | None = None,
                 min_score: float = DEFAULT_MIN_SCORE) -> pd.DataFrame:
    """The result columns for the points of one chunk (same row order and index).

    A row whose coordinates are empty or not numbers gets the reason in ``erreur``
    (both reasons when both coordinates are bad), as does a row that
    :meth:`QpvIndex.locate` cannot locate (out of range, swapped, outside France).

    With address columns, the chunk is first geocoded by ``geocoder``: the geocoding
    columns (:data:`~cohesion.geo.geocoding.GEOCODING_COLUMNS`) come first, and a row
    whose address is empty, not found or below ``min_score`` (``incertain``) is not
    located, with the reason in ``erreur``.
    """
    if columns.geocoded:
        if geocoder is None:
            raise CohesionError("des colonnes d'adresse sont données mais aucun géocodeur")
        geocoded, lon, lat, geocoding_errors = geocode_frame(geocoder, frame,
                                                             columns.addresses, min_score)
        results = index.locate(lon, lat, tolerance).to_frame()
        # a row that was not geocoded says why, rather than "coordonnées absentes"
        errors = pd.Series(geocoding_errors, dtype=object)
        results["erreur"] = errors.where(errors.notna(), results["erreur"])
        results.index = frame.index
        return pd.concat([geocoded, results], axis=1)
    first, second = columns.names
    results = locate_points(index, frame[first], frame[second], columns, tolerance).to_frame()
    results.index = frame.index
    return results


# -- reading --------------------------------------------------------------------------


def is_parquet(path: Path) -> bool:
    """Whether a path names a Parquet file (by its extension)."""
    return path.suffix.lower() in PARQUET_SUFFIXES


@dataclass(frozen=True)
class CsvLayout:
    """How a CSV file is written: encoding, separator and header.

    Attributes
    ----------
    encoding, separator : str
        As detected.
    header : list of str
        Column names of the first line, as written.
    header_bytes : bytes
        The first line itself (with its line end), to parse a block of later lines.
    bytes_per_line : float
        The mean length of the first lines, to tell about how many rows the file holds.
    """

    encoding: str
    separator: str
    header: list[str]
    header_bytes: bytes
    bytes_per_line: float

    def frames(self, source: io.BufferedIOBase | Path,
               chunk_rows: int | None = None) -> Iterator[pd.DataFrame]:
        """Read with ``pandas.read_csv``, every cell as text, ``chunk_rows`` at a time.

        Raises
        ------
        pandas.errors.ParserError, pandas.errors.ParserWarning
            For a malformed row, or a row with more fields than the header (which pandas
            would silently cut short).
        """
        with pd.read_csv(source, sep=self.separator, encoding=self.encoding, dtype=str,
                         keep_default_na=False, index_col=False, engine="c", quotechar='"',
                         iterator=True) as reader:
            while True:
                # warning filters are global: one parser at a time changes them
                with _PARSING, warnings.catch_warnings():
                    warnings.simplefilter("error", pd.errors.ParserWarning)
                    try:
                        frame = reader.get_chunk(chunk_rows)
                    except StopIteration:
                        return
                yield frame

    def tables(self, path: Path, chunk_rows: int) -> Iterator[pa.Table]:
        """Read with Arrow's CSV reader, every cell as text, ``chunk_rows`` at a time.

        Raises
        ------
        UnreadableByArrow
            For any row Arrow cannot parse (a row with more or fewer fields than the
            header…), or a file whose quotes may not all close (an odd number of
            quotes, or a last value ending with a line end), which Arrow would read
            to its end as one value. :meth:`frames` then tells what is wrong, or reads
            what pandas accepts (a short row gets empty cells).
        """
        if _quote_count(path) % 2:
            # an open quote Arrow would read to the end of the file without a word
            raise UnreadableByArrow("guillemet jamais fermé")
        text = dict.fromkeys(self.header, pa.string())
        encoding = "utf8" if self.encoding.startswith("utf-8") else self.encoding
        last: pa.Table | None = None
        try:
            # opened here, not by Arrow, so that the blocks read are POOL's memory
            with pa.OSFile(str(path), memory_pool=POOL) as source:
                reader = pa_csv.open_csv(
                    source, read_options=pa_csv.ReadOptions(
                        column_names=self.header, skip_rows=1, encoding=encoding,
                        block_size=_CSV_BLOCK_BYTES),
                    parse_options=pa_csv.ParseOptions(
                        delimiter=self.separator, quote_char='"', double_quote=True,
                        newlines_in_values=True),
                    convert_options=pa_csv.ConvertOptions(
                        column_types=text, strings_can_be_null=False,
                        quoted_strings_can_be_null=False), memory_pool=POOL)
                rows = round(path.stat().st_size / self.bytes_per_line)
                for last in _in_chunks(reader, chunk_sizes(rows, chunk_rows)):
                    yield last
        except pa.ArrowInvalid as error:
            raise UnreadableByArrow(str(error)) from None
        if last is not None and any(str(value).endswith(("\n", "\r")) for value in
                                    last.slice(last.num_rows - 1).to_pylist()[0].values()):
            # the quote of the last row may never close, its value running to the end
            raise UnreadableByArrow("dernière valeur finie par un saut de ligne")


def _quote_count(path: Path) -> int:
    """How many ``"`` a file holds (even when every quote is closed)."""
    with path.open("rb") as handle:
        # (``in`` finds a byte several times faster than ``count`` counts them)
        return sum(block.count(b'"') for block in iter(lambda: handle.read(1 << 22), b"")
                   if b'"' in block)


class UnreadableByArrow(Exception):
    """A CSV file Arrow's reader refuses (the slower pandas reader is then used)."""


def chunk_sizes(rows: int, chunk_rows: int, workers: int | None = None) -> Iterator[int]:
    """How many rows each chunk of a file of about ``rows`` rows takes, in order.

    Chunks take ``chunk_rows`` rows at most. The first takes a quarter of that: the
    locating threads start sooner. The last ones shrink, each taking a
    ``2 × workers``-th of the rows left, down to an eighth of ``chunk_rows``: the
    threads finish together, rather than one of them locating a whole chunk while the
    others wait. ``rows`` is only an estimate (the line feeds of a CSV file): once it
    is reached, the chunks keep the smallest size.

    Parameters
    ----------
    rows : int
        The rows expected.
    chunk_rows : int
        The most rows of a chunk.
    workers : int, optional
        The threads locating chunks side by side (default :data:`LOCATING_THREADS`).

    Examples
    --------
    >>> from itertools import islice
    >>> list(islice(chunk_sizes(1_000, 100, workers=2), 20))
    [25, 100, 100, 100, 100, 100, 100, 93, 70, 53, 39, 30, 22, 17, 12, 12, 12, 12, 12, 12]
    """
    workers = workers or LOCATING_THREADS
    smallest = max(chunk_rows // 8, 1)
    first = max(chunk_rows // 4, 1)
    yield first
    left = rows - first
    while True:
        size = min(chunk_rows, max(smallest, left // (2 * workers)))
        yield size
        left -= size


def _in_chunks(batches: Iterable[pa.RecordBatch], sizes: Iterable[int]) -> Iterator[pa.Table]:
    """The batches regrouped in tables of the given ``sizes`` (the last one shorter)."""
    wanted = iter(sizes)
    rows = next(wanted)
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            taken = batch.slice(0, rows - count)
            pending.append(taken)
            count += taken.num_rows
            batch = batch.slice(taken.num_rows)
            if count == rows:
                yield pa.Table.from_batches(pending)
                pending, count, rows = [], 0, next(wanted)
    if count:
        yield pa.Table.from_batches(pending)


def csv_layout(path: Path, name: str | None = None) -> CsvLayout:
    """Detect the encoding and separator of a CSV file and read its header.

    The header and first lines are measured first (:func:`check_line_lengths`), then
    the header's columns counted: a file too wide is refused before it is parsed.

    Parameters
    ----------
    path : Path
        A UTF-8, cp1252 or latin-1 text file (see :meth:`InputFile.open` for UTF-16).
    name : str, optional
        The file's name in messages (default: ``path``).

    Raises
    ------
    InputFileError
        For a missing or empty file, a binary file, a header or first line too long,
        more than :data:`MAX_POINT_FILE_COLUMNS` columns, an empty or duplicated column
        name.
    """
    shown = name or str(path)
    head = _first_bytes(path, shown)
    if b"\x00" in head:
        raise InputFileError(shown, "fichier binaire et non un tableau CSV (ou Parquet : "
                             "nommer le fichier .parquet)", line=1)
    check_line_lengths(path, shown)
    encoding = detect_encoding(path, head)
    separator = detect_separator(path, head.decode(encoding, errors="replace"))
    with path.open("rb") as handle:
        header_bytes = handle.readline()
    header = next(csv.reader([header_bytes.decode(encoding).rstrip("\r\n")],
                             delimiter=separator))
    check_column_count(shown, header, MAX_POINT_FILE_COLUMNS)
    seen: set[str] = set()
    for position, column in enumerate(header, start=1):
        if not column.strip():
            raise InputFileError(shown, f"la colonne n° {position} n'a pas de nom", line=1,
                                 column=str(position))
        if column in seen:
            raise InputFileError(shown, f"deux colonnes s'appellent « {column} »", line=1,
                                 column=column)
        seen.add(column)
    return CsvLayout(encoding, separator, header, header_bytes,
                     len(head) / max(head.count(b"\n"), 1))


def _first_bytes(path: Path, name: str | None = None) -> bytes:
    """The first bytes of ``path``; refuse a missing or empty file (named ``name``)."""
    if not path.is_file():
        raise InputFileError(name or path, "fichier introuvable")
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head.strip():
        raise InputFileError(name or path, "le fichier est vide : une ligne d'en-tête et des "
                             "lignes de points étaient attendues")
    return head


@dataclass(frozen=True)
class InputFile:
    """A CSV or Parquet file of points, described before it is read.

    Attributes
    ----------
    path : Path
        The file read: the file given, or the UTF-8 copy of a UTF-16 one.
    columns : list of str
        Its column names.
    layout : CsvLayout or None
        How the CSV file is written (None for a Parquet file).
    name : str
        The file's name in every message: the name its user knows it by (an upload's
        own name, never the server's temporary path); by default ``path``.
    """

    path: Path
    columns: list[str]
    layout: CsvLayout | None
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.name or str(self.path))

    @classmethod
    def open(cls, path: Path, name: str | None = None) -> InputFile:
        """Describe a file (CSV unless its extension is ``.parquet`` or ``.pq``).

        A CSV file is read in UTF-8 (with or without a byte-order mark), cp1252 or
        latin-1; a UTF-16 one (Excel's « Texte Unicode », with its byte-order mark) is
        first copied in UTF-8, a block at a time, to a temporary file removed with the
        returned object. Separators ``;``, ``,``, tab and ``|`` are detected.

        Parameters
        ----------
        path : Path
            The file.
        name : str, optional
            Its name in messages (default: ``path``).

        Raises
        ------
        InputFileError
            For a missing, empty, binary or unreadable file, a bad CSV header, a file of
            more than :data:`MAX_POINT_FILE_COLUMNS` columns.
        """
        shown = name or str(path)
        if is_parquet(path):
            names = list(_parquet_file(path, shown).schema_arrow.names)
            check_column_count(shown, names, MAX_POINT_FILE_COLUMNS)
            return cls(path, names, None, shown)
        if not is_utf16(_first_bytes(path, shown)):
            layout = csv_layout(path, shown)
            return cls(path, layout.header, layout, shown)
        folder = Path(tempfile.mkdtemp(prefix="cohesion-utf8-"))
        try:
            copy = transcode_to_utf8(path, folder / f"points{path.suffix}", shown)
            layout = csv_layout(copy, shown)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        opened = cls(copy, layout.header, layout, shown)
        weakref.finalize(opened, shutil.rmtree, folder, True)
        return opened

    @property
    def separator(self) -> str:
        """The CSV separator to write: the input's, or ``,`` for a Parquet input."""
        return "," if self.layout is None else self.layout.separator

    def check_columns(self, columns: PointColumns, index: QpvIndex) -> None:
        """Refuse a file without the coordinate columns, or already holding result columns."""
        for column, role in columns.required:
            if column not in self.columns:
                raise InputFileError(self.name, f"pas de colonne « {column} » pour la {role} ; "
                                     f"colonnes du fichier : {', '.join(self.columns)}",
                                     line=1, column=column)
        produced = [*GEOCODING_COLUMNS, *index.columns()] if columns.geocoded \
            else index.columns()
        taken = [column for column in produced if column in self.columns]
        if taken:
            raise InputFileError(self.name, f"le fichier a déjà une colonne « {taken[0]} » "
                                 "(résultat d'une localisation précédente ?) : la renommer ou "
                                 "la retirer", line=1, column=taken[0])

    def frames(self, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        """The rows as pandas frames, ``chunk_rows`` at a time, indexed from 0 on.

        CSV cells are text (read by pandas); Parquet columns keep their Arrow types
        (``pandas.ArrowDtype``).

        Raises
        ------
        InputFileError
            For a file with a header but no row, or a malformed CSV row.
        """
        if self.layout is None:
            chunks: Iterator[pd.DataFrame] = (
                table.to_pandas(types_mapper=pd.ArrowDtype)
                for table in self.tables(chunk_rows))
        else:
            chunks = self.layout.frames(self.path, chunk_rows)
        start = 0
        try:
            for chunk in chunks:
                if chunk.empty:
                    continue
                chunk.index = pd.RangeIndex(start, start + len(chunk))
                start += len(chunk)
                yield chunk
        except (pd.errors.ParserError, pd.errors.ParserWarning) as error:
            raise self.parser_error(error) from None
        if start == 0:
            raise self.no_rows_error()

    def tables(self, chunk_rows: int = DEFAULT_CHUNK_ROWS,
               by_pandas: bool = False) -> Iterator[pa.Table]:
        """The rows as Arrow tables, ``chunk_rows`` at a time (no empty one).

        CSV cells are text; Parquet columns keep their types.

        Parameters
        ----------
        chunk_rows : int
            Rows of each table (the last one may have fewer).
        by_pandas : bool
            Read a CSV file with pandas' reader (which accepts a row with fewer fields
            than the header) rather than Arrow's, several times faster.

        Raises
        ------
        InputFileError
            For a file with a header but no row, or a malformed CSV row.
        UnreadableByArrow
            For a CSV row Arrow's reader does not parse (read it again ``by_pandas``).
        """
        if self.layout is None:
            parquet = _parquet_file(self.path, self.name)
            chunks: Iterator[pa.Table] = _in_chunks(
                parquet.iter_batches(batch_size=chunk_rows),
                chunk_sizes(parquet.metadata.num_rows, chunk_rows))
        elif by_pandas:
            chunks = (pa.Table.from_pandas(frame, preserve_index=False)
                      for frame in self.frames(chunk_rows))
        else:
            chunks = self.layout.tables(self.path, chunk_rows)
        empty = True
        for chunk in chunks:
            if chunk.num_rows:
                empty = False
                yield chunk
        if empty:
            raise self.no_rows_error()

    def no_rows_error(self) -> InputFileError:
        """The error for a file that has a header but no row."""
        return InputFileError(self.name, "le fichier n'a aucune ligne de points, seulement "
                              "un en-tête", line=2)

    def parser_error(self, error: Exception) -> InputFileError:
        """The error for a CSV file pandas cannot parse, in French, at its line.

        The file is read again with the csv module to find the line: the first row with
        more fields than the header, or else the row where a quoted value opens and
        never closes. The parser's own message is never shown.
        """
        assert self.layout is not None
        with self.path.open(encoding=self.layout.encoding, newline="") as handle:
            reader = csv.reader(handle, delimiter=self.layout.separator)
            fields = len(next(reader))
            start = last = reader.line_num + 1  # where the next row, the last one, start
            unreadable = False
            try:
                for row in reader:
                    if len(row) > fields:
                        return InputFileError(self.name, f"la ligne a {len(row)} champs, plus "
                                              f"que les {fields} colonnes de l'en-tête",
                                              line=start)
                    last, start = start, reader.line_num + 1
            except csv.Error:  # a value longer than the csv module allows: an open quote
                unreadable = True
        if unreadable or "EOF inside string" in str(error):
            # the csv module reads an open quote to the end of the file as one last row
            return InputFileError(self.name, "ligne CSV illisible : un guillemet ouvert à "
                                  "cette ligne n'est jamais fermé (un guillemet dans une "
                                  'valeur s\'écrit "")', line=start if unreadable else last)
        return InputFileError(self.name, "ligne CSV illisible : guillemets ou séparateurs mal "
                              "placés", expected="des valeurs entre guillemets bien fermées "
                              "et autant de champs par ligne que dans l'en-tête")

    def count_rows(self) -> int:
        """Number of rows, for a progress bar (CSV: line ends, less the header)."""
        if self.layout is None:
            return int(_parquet_file(self.path, self.name).metadata.num_rows)
        lines, last = 0, b""
        with self.path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                lines += block.count(b"\n")
                last = block
        return max(lines - (1 if last.endswith(b"\n") else 0), 0)


def _parquet_file(path: Path, name: str | None = None) -> pq.ParquetFile:
    """Open a Parquet file; refuse a missing, empty or unreadable one (named ``name``)."""
    _first_bytes(path, name)
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError):
        raise InputFileError(name or path, "fichier Parquet illisible : ce n'est pas un "
                             "fichier Parquet complet", expected="un fichier Parquet, ou un "
                             "CSV nommé .csv") from None


# -- writing --------------------------------------------------------------------------


@dataclass(frozen=True)
class EncodedChunk:
    """A chunk ready to be appended: its counts, and its rows as a table or CSV lines."""

    counts: BatchSummary
    body: pa.Table | pa.Buffer
    header: bytes = b""


class ChunkWriter:
    r"""Append located chunks to a CSV or Parquet file, then move it into place.

    CSV is written in UTF-8 as :meth:`pandas.DataFrame.to_csv` would (minimal quoting,
    ``\\n`` line ends, floats as Python writes them), text a spreadsheet would run as a
    formula neutralised (:mod:`cohesion.geo.columnar`).

    Parameters
    ----------
    target : Path
        The output file (its extension chooses the format).
    generations : tuple of int
        The generations located (for the summary).
    separator : str
        CSV separator (that of the input when it is a CSV file).
    """

    def __init__(self, target: Path, generations: tuple[int, ...], separator: str = ",") -> None:
        self.target = target
        self.partial = target.with_name(f".{target.name}.partiel")
        self.generations = generations
        self.separator = separator
        self.summary = BatchSummary(target)
        self._parquet: pq.ParquetWriter | None = None
        self._csv: io.BufferedWriter | None = None

    def write(self, chunk: pa.Table | pd.DataFrame, results: pa.Table | pd.DataFrame) -> None:
        """Append one chunk (input columns) and its result columns."""
        self.append(self.encode(chunk, results))

    def encode(self, chunk: pa.Table | pd.DataFrame,
               results: pa.Table | pd.DataFrame) -> EncodedChunk:
        """One chunk and its results as they will be written, and counted.

        Touches nothing of the writer: chunks may be encoded on several threads at once,
        then appended in order.
        """
        if isinstance(chunk, pd.DataFrame):
            chunk = pa.Table.from_pandas(chunk, preserve_index=False)
        if isinstance(results, pd.DataFrame):
            results = result_table(results)
        counts = BatchSummary(self.target)
        counts.add(results, self.generations)
        table = pa.Table.from_arrays([*chunk.columns, *results.columns],
                                     names=[*chunk.column_names, *results.column_names])
        if is_parquet(self.target):
            return EncodedChunk(counts, table.replace_schema_metadata(None))
        header = io.StringIO()
        csv.writer(header, delimiter=self.separator, lineterminator="\n").writerow(
            [neutralise_text(name) for name in table.column_names])
        return EncodedChunk(counts, csv_lines(table, self.separator),
                            header.getvalue().encode("utf-8"))

    def append(self, encoded: EncodedChunk) -> None:
        """Append an encoded chunk to the file, and its counts to the summary."""
        if isinstance(encoded.body, pa.Table):
            if self._parquet is None:
                self._parquet = _parquet_writer(self.partial, encoded.body.schema)
            self._parquet.write_table(encoded.body.cast(self._parquet.schema))
        else:
            if self._csv is None:
                self._csv = self.partial.open("wb")
                self._csv.write(encoded.header)
            self._csv.write(encoded.body)
        self.summary.merge(encoded.counts)

    def close(self) -> BatchSummary:
        """Finish the file and move it to its name."""
        if self._parquet is not None:
            # the columns' types as read back: text, not dictionaries (see _parquet_writer)
            self._parquet.add_key_value_metadata({"ARROW:schema": base64.b64encode(
                plain_schema(self._parquet.schema).serialize().to_pybytes()).decode()})
        self._close_file()
        os.replace(self.partial, self.target)
        return self.summary

    def abort(self) -> None:
        """Remove the partial file after a failure."""
        self._close_file()
        self.partial.unlink(missing_ok=True)

    def _close_file(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()


def _parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """A Parquet writer taking tables of ``schema``, whose text is read back as text.

    The result columns come dictionary-encoded (:func:`result_table`): Parquet's own
    dictionary pages are written from them as they are, where decoding them first
    would cost a copy of every cell, and Parquet would hash every cell again to encode
    them. The Arrow schema Parquet readers restore the types from is then written at
    the end (:meth:`ChunkWriter.close`) with those columns as plain text, as a table
    of text would have it, rather than the writer's: the file reads back as before.

    Only text is dictionary-encoded: numbers (coordinates, distances, identifiers)
    are mostly distinct, and a dictionary would only cost time and space.
    """
    text = [field.name for field in schema if pa.types.is_dictionary(field.type) or
            pa.types.is_string(field.type) or pa.types.is_large_string(field.type)]
    return pq.ParquetWriter(path, schema, store_schema=False, use_dictionary=text)


def locate_file(index: QpvIndex, source: Path | InputFile, target: Path, columns: PointColumns,
                tolerance: float = DEFAULT_TOLERANCE, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                progress: Progress | None = None, geocoder: Geocoder | None = None,
                min_score: float = DEFAULT_MIN_SCORE) -> BatchSummary:
    """Locate every point of a CSV or Parquet file and write the enriched file.

    Coordinates are read, parsed, located and written a chunk at a time, in Arrow
    columns: while one chunk is written, the next ones are located on other threads
    (the locating core releases the GIL), at most :data:`LOCATING_THREADS` + 1 chunks
    in memory. A CSV file Arrow's reader refuses (a row with fewer fields than the
    header…) is read again, from the start, by pandas' reader: its errors name the
    line, and what it accepts is located.

    Parameters
    ----------
    index : QpvIndex
        The QPV (and commune) contours.
    source : Path or InputFile
        Input file (CSV or Parquet, by extension), or its description when already
        opened (a CSV file's encoding is detected by reading it whole).
    target : Path
        Output file (CSV or Parquet, by extension, whatever the input's format).
    columns : PointColumns
        The coordinate columns, or the address columns.
    tolerance : float
        Distance in metres to a border within which a point is ``probable``.
    chunk_rows : int
        Rows read, located and written at a time (memory grows with it, not with the
        file). With addresses, each chunk is geocoded at once (the geocoder splits it
        into requests of its own size).
    progress : callable, optional
        Called with the number of rows done after each chunk.
    geocoder : Geocoder, optional
        Geocodes the addresses (required with address columns), e.g.
        :class:`~cohesion.geo.geocoding.AddokGeocoder`.
    min_score : float
        Geocoding score under which an address is ``incertain`` and not located.

    Returns
    -------
    BatchSummary

    Raises
    ------
    InputFileError
        For an empty file, a missing coordinate column (the message lists the columns
        found), a column that the results would overwrite, an unreadable row. The output
        file is then not written.

    See Also
    --------
    cohesion.geo.distributed.locate_file_distributed : the same on a Dask cluster.
    """
    source_file = source if isinstance(source, InputFile) else InputFile.open(Path(source))
    source_file.check_columns(columns, index)
    if columns.geocoded:
        # the geocoder, a few thousand rows a second, sets the pace: pandas frames
        writer = ChunkWriter(Path(target), index.generations, source_file.separator)
        return _write_all(writer, (
            writer.encode(frame, locate_frame(index, frame, columns, tolerance, geocoder,
                                              min_score))
            for frame in source_file.frames(chunk_rows)), progress)
    try:
        return _locate_tables(index, source_file, Path(target), columns, tolerance, chunk_rows,
                              progress, by_pandas=False)
    except UnreadableByArrow:  # read again by pandas, from the start
        return _locate_tables(index, source_file, Path(target), columns, tolerance, chunk_rows,
                              progress, by_pandas=True)


def _locate_tables(index: QpvIndex, source: InputFile, target: Path, columns: PointColumns,
                   tolerance: float, chunk_rows: int, progress: Progress | None,
                   by_pandas: bool) -> BatchSummary:
    """Locate and write every chunk of coordinates (see :meth:`InputFile.tables`)."""
    writer = ChunkWriter(target, index.generations, source.separator)

    def encode(table: pa.Table) -> EncodedChunk:
        return writer.encode(table, locate_table(index, table, columns, tolerance))

    return _write_all(writer, _ahead(encode, source.tables(chunk_rows, by_pandas)), progress)


#: Threads locating and encoding chunks while the main thread reads and writes.
LOCATING_THREADS = min(4, os.cpu_count() or 1)


def _ahead(function: Callable[[T], R], items: Iterator[T]) -> Iterator[R]:
    """``function`` of each item, in order, computed ahead on :data:`LOCATING_THREADS`.

    At most :data:`LOCATING_THREADS` + 1 items are held at a time.
    """
    with ThreadPoolExecutor(LOCATING_THREADS, thread_name_prefix="qpv") as pool:
        running: deque[Future[R]] = deque()
        try:
            for item in items:
                running.append(pool.submit(function, item))
                if len(running) > LOCATING_THREADS:
                    yield running.popleft().result()
            while running:
                yield running.popleft().result()
        finally:
            for future in running:
                future.cancel()


def _write_all(writer: ChunkWriter, chunks: Iterable[EncodedChunk],
               progress: Progress | None) -> BatchSummary:
    """Append every encoded chunk, then move the file into place; all or nothing."""
    try:
        for chunk in chunks:
            writer.append(chunk)
            if progress is not None:
                progress(writer.summary.rows)
    except BaseException:
        writer.abort()
        raise
    return writer.close()
