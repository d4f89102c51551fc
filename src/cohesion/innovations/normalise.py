"""Where a record is: its commune, département and QPV, for a whole batch at once.

A source gives what it has: a commune code (of its own year), a postcode and a commune
name, a point, a département. :class:`Normaliser` completes the records from the
référentiel and the QPV locating core of an observatory (:class:`~cohesion.core.Observatory`):

1. a commune code is brought to the référentiel's latest vintage: an arrondissement
   municipal becomes its commune, the code of a commune since merged the commune
   nouvelle (``former_codes``);
2. without a code, the postcode and the commune name give it, when they designate one
   commune (names compared as the référentiel's search keys: accents, case, ``St`` =
   ``Saint``); a postcode alone gives it when only one commune has it; a name alone
   (a postcode that does not fit it), when only one commune of the record's département,
   or of France without one, has that name;
3. a point that is the project's place (connector ``point: lieu``) gives the commune
   that contains it when nothing else did, and the QPV it lies in
   (:class:`~cohesion.geo.QpvIndex`): the code of the newest QPV generation whose loaded
   contours cover the point (a point « hors QPV » of 2024 has no QPV, even inside a QPV
   of 2015); the centre of a territory (``point: centroide``) gives neither;
4. the département, and the commune's name, come from the commune.

Everything is computed on columns (merges and vectorised point-in-polygon tests), never
one query per record. Without an observatory, only the département is derived, from a
commune code the source gave; commune and QPV stay empty.

The postcodes and names are read from the référentiel package the warehouse is built
from (:func:`~cohesion.territory.referentiel.read_vintage`), once per normaliser: the
warehouse has no named read of its postcodes table yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from cohesion.core.qpv import QpvNotLoadedError
from cohesion.geo.locate import NOT_COVERED, departement_of_commune
from cohesion.innovations.records import Record
from cohesion.policies.funding import counted
from cohesion.territory.names import search_key
from cohesion.territory.referentiel import read_vintage

if TYPE_CHECKING:
    from cohesion.core.qpv import QpvService
    from cohesion.settings import Settings


class Place(Protocol):
    """What the normaliser needs of an observatory (:class:`~cohesion.core.Observatory`)."""

    settings: Settings

    @property
    def qpv(self) -> QpvService:
        """The QPV locating service."""

    def latest_vintage(self) -> int:
        """The latest geography vintage of the warehouse."""


@dataclass(frozen=True)
class Communes:
    """The communes of one vintage, as the normaliser looks them up.

    Attributes
    ----------
    vintage : int
    names : DataFrame
        ``code, name, key, departement``: every commune, arrondissement municipal and
        commune déléguée or associée, ``code`` being the commune it belongs to.
    postcodes : DataFrame
        ``postcode, code`` (code of the commune; arrondissements give their commune).
    current : Series
        Code of a commune, arrondissement or former commune → the commune's code today.
    departements : Series
        Commune code → département code.
    commune_names : Series
        Commune code → its name.
    """

    vintage: int
    names: pd.DataFrame
    postcodes: pd.DataFrame
    current: pd.Series
    departements: pd.Series
    commune_names: pd.Series

    @classmethod
    def read(cls, settings: Settings, vintage: int) -> Communes:
        """The communes of ``vintage`` from the référentiel package of ``settings``."""
        tables = read_vintage(settings.npm_folder(), vintage)
        territories = tables.territories
        links = tables.memberships
        parent = links[links["level"].isin(["ARM", "COMD", "COMA"])
                       & (links["parent_level"] == "COM")].drop_duplicates("code")
        parent_of = parent.set_index("code")["parent_code"]
        communes = territories[territories["level"] == "COM"]
        departements = links[(links["level"] == "COM") & (links["parent_level"] == "DEP")] \
            .drop_duplicates("code").set_index("code")["parent_code"]
        places = territories[territories["level"].isin(["COM", "ARM", "COMD", "COMA"])]
        owner = places["code"].where(places["level"] == "COM", places["code"].map(parent_of))
        names = pd.DataFrame({"code": owner.to_numpy(), "name": places["name"].to_numpy(),
                              "key": places["search_name"].to_numpy()}).dropna(subset=["code"])
        names = names.drop_duplicates(["code", "key"])
        names["departement"] = names["code"].map(departements)
        postcodes = tables.postcodes
        postcodes = pd.DataFrame({
            "postcode": postcodes["postcode"].to_numpy(),
            "code": postcodes["code"].where(postcodes["level"] == "COM",
                                            postcodes["code"].map(parent_of)).to_numpy(),
        }).dropna().drop_duplicates()
        former = tables.former_codes.drop_duplicates("former_code")
        current = pd.concat([
            pd.Series(communes["code"].to_numpy(), index=communes["code"].to_numpy()),
            parent_of[parent.loc[parent["level"] == "ARM", "code"]],
            pd.Series(former["code"].to_numpy(), index=former["former_code"].to_numpy())])
        current = current[~current.index.duplicated()]
        return cls(vintage, names, postcodes, current, departements,
                   communes.set_index("code")["name"])

    def by_postcode_and_name(self, postcode: pd.Series, name: pd.Series) -> pd.Series:
        """The commune of each (postcode, name) when exactly one fits, else None.

        With a name, the communes of the postcode whose name (or the name of one of
        their communes déléguées) has the same search key; without one, the only
        commune of the postcode.
        """
        wanted = pd.DataFrame({"postcode": postcode, "key": name.map(
            lambda v: search_key(v) if isinstance(v, str) else None)})
        wanted = wanted[wanted["postcode"].notna()]
        named = wanted[wanted["key"].notna()].reset_index().merge(
            self.postcodes, on="postcode").merge(self.names[["code", "key"]], on=["code", "key"])
        bare = wanted[wanted["key"].isna()].reset_index().merge(self.postcodes, on="postcode")
        found = pd.concat([named[["index", "code"]], bare[["index", "code"]]])
        return _unique(found, postcode.index)

    def by_name(self, name: pd.Series, departement: pd.Series) -> pd.Series:
        """The commune of each name when only one commune fits, else None.

        Among the communes of the département when it is given, of all France
        otherwise (a name that only one commune bears: « Propriano »).
        """
        wanted = pd.DataFrame({"key": name.map(lambda v: search_key(v) if isinstance(v, str)
                                               else None), "departement": departement})
        wanted = wanted[wanted["key"].notna()].reset_index()
        placed = wanted["departement"].notna()
        found = pd.concat([
            wanted[placed].merge(self.names, on=["key", "departement"]),
            wanted[~placed].drop(columns="departement").merge(self.names, on="key")])
        return _unique(found[["index", "code"]], name.index)


def _unique(found: pd.DataFrame, index: pd.Index) -> pd.Series:
    """``code`` by ``index`` where the rows of one index give exactly one code."""
    codes = found.drop_duplicates().groupby("index")["code"]
    one = codes.first()[codes.nunique() == 1]
    return one.reindex(index).astype(object).where(lambda s: s.notna(), None)


class Normaliser:
    """Completes the place of records: commune, département, QPV (see the module).

    Parameters
    ----------
    place : Observatory, optional
        The référentiel and the QPV contours; None leaves commune and QPV empty.

    Examples
    --------
    >>> record = Record(id="x:1", source="x", source_key="1", title="Atelier vélo",
    ...                 commune="13201")
    >>> Normaliser().normalise([record])
    []
    >>> record.departement, record.commune
    ('13', '13201')
    """

    def __init__(self, place: Place | None = None) -> None:
        self.place = place
        self._communes: Communes | None = None

    def communes(self) -> Communes | None:
        """The communes of the latest vintage (read once), None without an observatory."""
        if self.place is None:
            return None
        vintage = self.place.latest_vintage()
        if self._communes is None or self._communes.vintage != vintage:
            self._communes = Communes.read(self.place.settings, vintage)
        return self._communes

    def normalise(self, records: list[Record], point: str = "lieu") -> list[str]:
        """Fill ``commune``, ``commune_name``, ``departement`` and ``qpv`` of ``records``.

        Parameters
        ----------
        records : list of Record
            Changed in place; what a source gave is kept, except a commune code of an
            older vintage, brought to the latest.
        point : str
            ``lieu`` (the point is the project's place) or ``centroide`` (the centre
            of a territory: it gives neither commune nor QPV).

        Returns
        -------
        list of str
            What was found, in French, for the run report.
        """
        if not records:
            return []
        frame = pd.DataFrame({
            "commune": [r.commune for r in records], "postcode": [r.postcode for r in records],
            "name": [r.commune_name for r in records],
            "departement": [r.departement for r in records],
            "lon": pd.array([r.lon for r in records], dtype="Float64"),
            "lat": pd.array([r.lat for r in records], dtype="Float64")}, dtype=object)
        notes: list[str] = []
        communes = self.communes()
        qpv = pd.Series([None] * len(frame), index=frame.index, dtype=object)
        if communes is not None:
            given = frame["commune"].notna()
            current = frame["commune"].map(communes.current)
            unknown = given & current.isna()
            if unknown.any():
                notes.append(counted(int(unknown.sum()), "code commune inconnu", "codes commune "
                                     "inconnus") + f" du référentiel {communes.vintage}, gardés "
                             f"tels quels (par exemple {frame.loc[unknown, 'commune'].iloc[0]})")
            changed = given & current.notna() & (current != frame["commune"])
            if changed.any():
                notes.append(counted(int(changed.sum()), "code commune remplacé",
                                     "codes commune remplacés") + " par celui de la commune du "
                             f"référentiel {communes.vintage} (commune fusionnée depuis, ou "
                             "arrondissement municipal)")
            frame["commune"] = current.where(given & current.notna(), frame["commune"])
            missing = frame["commune"].isna()
            by_postcode = communes.by_postcode_and_name(frame.loc[missing, "postcode"],
                                                        frame.loc[missing, "name"])
            frame.loc[by_postcode.dropna().index, "commune"] = by_postcode.dropna()
            missing = frame["commune"].isna()
            by_name = communes.by_name(frame.loc[missing, "name"],
                                       frame.loc[missing, "departement"])
            frame.loc[by_name.dropna().index, "commune"] = by_name.dropna()
            found = int(by_postcode.notna().sum() + by_name.notna().sum())
            if found:
                notes.append(counted(found, "commune trouvée", "communes trouvées")
                             + " par le code postal ou le nom")
            if point == "lieu":
                qpv = self._locate(frame, notes)
            frame["departement"] = frame["commune"].map(communes.departements).where(
                lambda s: s.notna(), frame["departement"])
            frame["name"] = frame["name"].where(frame["name"].notna(),
                                                frame["commune"].map(communes.commune_names))
        else:
            derived = pd.Series(departement_of_commune(frame["commune"].to_numpy()),
                                index=frame.index, dtype=object)
            frame["departement"] = frame["departement"].where(frame["departement"].notna(),
                                                              derived)
        frame = frame.astype(object).where(frame.notna(), None)
        for record, commune, name, departement, code in zip(
                records, frame["commune"], frame["name"], frame["departement"], qpv,
                strict=True):
            record.commune, record.commune_name = commune, name
            record.departement, record.qpv = departement, code
        inside = int(qpv.notna().sum())
        if inside:
            notes.append(counted(inside, "fiche située dans un QPV", "fiches situées dans un QPV"))
        return notes

    def _locate(self, frame: pd.DataFrame, notes: list[str]) -> pd.Series:
        """QPV code of each point (newest covering generation); communes of bare points."""
        qpv = pd.Series([None] * len(frame), index=frame.index, dtype=object)
        placed = (frame["lon"].notna() & frame["lat"].notna()).to_numpy(dtype=bool)
        if not placed.any():
            return qpv
        assert self.place is not None
        try:
            index = self.place.qpv.index()
        except QpvNotLoadedError:
            notes.append("aucun contour de QPV dans l'entrepôt : QPV et communes non déduits "
                         "des points")
            return qpv
        rows = np.flatnonzero(placed)
        location = index.locate(frame["lon"].to_numpy(dtype=float, na_value=np.nan)[rows],
                                frame["lat"].to_numpy(dtype=float, na_value=np.nan)[rows])
        chosen = np.full(len(rows), None, dtype=object)
        decided = np.zeros(len(rows), dtype=bool)
        for generation in sorted(location.generations, reverse=True):
            result = location.generations[generation]
            covered = ~pd.isna(result.quality) & (result.quality != NOT_COVERED)
            take = covered & ~decided
            chosen[take] = result.code[take]
            decided |= covered
        qpv.iloc[rows] = chosen
        if location.commune is not None and location.vintage == self.communes().vintage:
            bare = frame["commune"].isna().to_numpy()[rows]
            frame.loc[frame.index[rows[bare]], "commune"] = location.commune[bare]
            found = int(pd.notna(location.commune[bare]).sum())
            if found:
                notes.append(counted(found, "commune trouvée", "communes trouvées")
                             + " par le point")
        return qpv
