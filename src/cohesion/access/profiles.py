"""Travel profiles: which OpenStreetMap ways a traveller may use, at what speed, which way.

A :class:`Profile` is data, not code (like an OpenFisca parameter): the speed of each
``highway`` class, the access tags that apply, the access values that forbid a way, the
classes usable only where explicitly allowed, whether one-way streets bind. One method,
:meth:`Profile.way_speed`, reads those fields to judge a way from its tags, and
:meth:`Profile.direction` says in which directions it may be travelled.

Two profiles are built in, :data:`WALK` (``marche``, à pied, 5 km/h) and :data:`DRIVE`
(``voiture``); :func:`profile` finds them by name, with a walking speed of one's choice.

Examples
--------
>>> WALK.way_speed({"highway": "footway", "footway": "crossing"})
5.0
>>> WALK.way_speed({"highway": "motorway"}) is None
True
>>> DRIVE.way_speed({"highway": "residential", "maxspeed": "20"})
20.0
>>> DRIVE.direction({"highway": "primary", "junction": "roundabout"})
1
>>> profile("pieton", speed_kmh=4.0).speed_kmh
4.0
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from cohesion.errors import CohesionError

__all__ = ["DRIVE", "DRIVE_SPEEDS_KMH", "PROFILES", "WALK", "WALK_CLASSES", "WALK_SPEED_KMH",
           "Profile", "profile"]

WALK_SPEED_KMH = 5.0
"""Default walking speed, km/h (the usual 1.4 m/s of accessibility studies, rounded)."""

WALK_CLASSES: tuple[str, ...] = (
    "footway", "pedestrian", "steps", "path", "living_street", "residential", "service",
    "unclassified", "road", "track", "tertiary", "tertiary_link", "secondary",
    "secondary_link", "primary", "primary_link", "trunk", "trunk_link", "cycleway",
    "bridleway")
"""``highway`` classes open to pedestrians, all walked at the profile's speed.

``cycleway`` and ``bridleway`` are walked only where ``foot=yes``, ``designated`` or
``permissive`` says so (:data:`PERMISSION_CLASSES`); ``motorway`` and ``motorway_link``
never. ``road`` (a road of unknown class) is walked like ``unclassified``.
"""

DRIVE_SPEEDS_KMH: Mapping[str, float] = MappingProxyType({
    "motorway": 110.0, "motorway_link": 88.0,
    "trunk": 90.0, "trunk_link": 72.0,
    "primary": 70.0, "primary_link": 56.0,
    "secondary": 60.0, "secondary_link": 48.0,
    "tertiary": 50.0, "tertiary_link": 40.0,
    "unclassified": 40.0, "road": 40.0,
    "residential": 30.0,
    "service": 20.0,
    "living_street": 15.0,
})
"""Driving speed of each ``highway`` class where no ``maxspeed`` is given, km/h.

Commonly used OpenStreetMap routing defaults (the car profiles of OSRM and GraphHopper
use speeds of this order), set to French limits and typical free-flow speeds: 110 on
motorways, 90 on trunk roads, 70 down to 50 on primary to tertiary roads, 30 in
residential streets, 15 in zones de rencontre (``living_street``); each ``_link`` class
20 % below its parent. They are free-flow speeds, without congestion or traffic lights.
They are configurable: build another :class:`Profile` (``dataclasses.replace(DRIVE,
speeds_kmh=...)``) or scale them all with :meth:`Profile.with_speed`.
"""

PERMISSION_CLASSES: frozenset[str] = frozenset({"cycleway", "bridleway"})
"""Classes a pedestrian uses only where the ``foot`` tag explicitly allows it."""

PERMITS: frozenset[str] = frozenset({"yes", "designated", "permissive"})
"""Values of an access tag that explicitly allow a way."""

ONEWAY_FORWARD: frozenset[str] = frozenset({"yes", "true", "1"})
ONEWAY_REVERSE: frozenset[str] = frozenset({"-1", "reverse"})
ONEWAY_NO: frozenset[str] = frozenset({"no", "false", "0"})
ONEWAY_JUNCTIONS: frozenset[str] = frozenset({"roundabout", "circular"})
"""``junction`` values that imply ``oneway=yes`` unless ``oneway=no`` says otherwise."""

MAX_SPEED_KMH = 200.0
_PLAIN_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?)\s*")


def _check_speed(speed_kmh: object, what: str = "vitesse") -> float:
    """The speed as a float, or a French :class:`CohesionError`."""
    if isinstance(speed_kmh, bool) or not isinstance(speed_kmh, numbers.Real):
        raise CohesionError(f"{what} invalide : {speed_kmh!r} (attendu un nombre de km/h)")
    speed = float(speed_kmh)
    if not (0 < speed <= MAX_SPEED_KMH):  # also refuses NaN
        raise CohesionError(f"{what} invalide : {speed_kmh!r} km/h "
                            f"(attendu plus de 0 et au plus {MAX_SPEED_KMH:g} km/h)")
    return speed


@dataclass(frozen=True)
class Profile:
    """A way of travelling over the OpenStreetMap road network.

    Attributes
    ----------
    name : str
        Identifier: ``marche`` or ``voiture`` for the built-in profiles.
    label : str
        French label (« à pied », « en voiture »).
    speed_kmh : float
        Default speed, km/h: the walking speed, or the reference speed of a driving
        profile (:meth:`with_speed` scales every class speed by the same ratio).
    speeds_kmh : Mapping of str to float
        Speed of each routable ``highway`` class, km/h; other classes are not routable.
    oneway : bool
        Whether ``oneway`` tags (and roundabouts) bind.
    access_keys : tuple of str
        Access tags that apply, from the most general to the most specific; the most
        specific one present decides (``access=no`` with ``foot=yes`` is walkable).
    denied : frozenset of str
        Access values that exclude a way.
    permission_classes : frozenset of str
        Classes routable only where the most specific access tag is in :data:`PERMITS`.
    maxspeed : bool
        Whether a plain numeric ``maxspeed`` (km/h) replaces the class speed.
    implied_oneway : frozenset of str
        Classes one-way unless ``oneway=no`` (motorway carriageways).

    Examples
    --------
    >>> WALK.way_speed({"highway": "primary", "foot": "no"}) is None
    True
    >>> WALK.way_speed({"highway": "cycleway", "foot": "designated"})
    5.0
    >>> DRIVE.way_speed({"highway": "service", "access": "private"}) is None
    True
    >>> DRIVE.with_speed(35.0).speeds_kmh["motorway"]
    55.0
    """

    name: str
    label: str
    speed_kmh: float
    speeds_kmh: Mapping[str, float]
    oneway: bool
    access_keys: tuple[str, ...] = ("access",)
    denied: frozenset[str] = frozenset({"no"})
    permission_classes: frozenset[str] = field(default_factory=frozenset)
    maxspeed: bool = False
    implied_oneway: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        _check_speed(self.speed_kmh)
        speeds = {str(k): _check_speed(v, f"vitesse de la classe {k}")
                  for k, v in dict(self.speeds_kmh).items()}
        object.__setattr__(self, "speed_kmh", float(self.speed_kmh))
        object.__setattr__(self, "speeds_kmh", MappingProxyType(speeds))
        object.__setattr__(self, "access_keys", tuple(self.access_keys))
        for name in ("denied", "permission_classes", "implied_oneway"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))

    def __hash__(self) -> int:
        return hash((self.name, self.label, self.speed_kmh,
                     tuple(sorted(self.speeds_kmh.items())), self.oneway, self.access_keys,
                     self.denied, self.permission_classes, self.maxspeed,
                     self.implied_oneway))

    def __repr__(self) -> str:
        return f"<Profile {self.name} ({self.label}, {self.speed_kmh:g} km/h)>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Profile):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def way_speed(self, tags: Mapping[str, str]) -> float | None:
        """Speed on a way, in km/h, or None if the profile may not use it.

        Parameters
        ----------
        tags : Mapping of str to str
            The way's OSM tags (a dict, or pyosmium's ``TagList``).

        Returns
        -------
        float or None
            The class speed (or the ``maxspeed`` where the profile honours it and it is
            a plain number of km/h); None for ways that are not highways, areas
            (``area=yes``), classes the profile does not use, or ways its access tags
            forbid.

        Examples
        --------
        >>> WALK.way_speed({"highway": "steps"})
        5.0
        >>> WALK.way_speed({"highway": "pedestrian", "area": "yes"}) is None
        True
        >>> WALK.way_speed({"highway": "service", "access": "no", "foot": "yes"})
        5.0
        >>> DRIVE.way_speed({"highway": "primary", "maxspeed": "FR:urban"})
        70.0
        >>> DRIVE.way_speed({"highway": "tertiary", "motor_vehicle": "no"}) is None
        True
        """
        highway = tags.get("highway")
        if highway is None or tags.get("area") == "yes":
            return None
        speed = self.speeds_kmh.get(highway)
        if speed is None:
            return None
        decision = None
        for key in reversed(self.access_keys):
            decision = tags.get(key)
            if decision is not None:
                break
        if decision in self.denied:
            return None
        if highway in self.permission_classes and decision not in PERMITS:
            return None
        if self.maxspeed:
            match = _PLAIN_NUMBER.fullmatch(tags.get("maxspeed") or "")
            if match and 0 < float(match.group(1)) <= MAX_SPEED_KMH:
                return float(match.group(1))
        return speed

    def direction(self, tags: Mapping[str, str]) -> int:
        """Directions in which a way may be travelled.

        Returns
        -------
        int
            ``0`` both ways, ``1`` only in the order of its nodes (``oneway=yes``,
            ``true``, ``1``; roundabouts; motorways), ``-1`` only against it
            (``oneway=-1``). Always 0 for a profile that ignores one-way streets.

        Examples
        --------
        >>> DRIVE.direction({"highway": "residential", "oneway": "-1"})
        -1
        >>> WALK.direction({"highway": "residential", "oneway": "yes"})
        0
        >>> DRIVE.direction({"highway": "motorway", "oneway": "no"})
        0
        """
        if not self.oneway:
            return 0
        oneway = tags.get("oneway")
        if oneway in ONEWAY_FORWARD:
            return 1
        if oneway in ONEWAY_REVERSE:
            return -1
        if oneway in ONEWAY_NO:
            return 0
        if tags.get("junction") in ONEWAY_JUNCTIONS or tags.get("highway") in self.implied_oneway:
            return 1
        return 0

    def with_speed(self, speed_kmh: float) -> Profile:
        """The same profile at another speed.

        Every class speed is scaled by ``speed_kmh / self.speed_kmh``: for walking, where
        every class is walked at the same speed, they all become ``speed_kmh``.

        Raises
        ------
        CohesionError
            Unless ``0 < speed_kmh <= 200``.

        Examples
        --------
        >>> slow = WALK.with_speed(4.0)
        >>> slow.speed_kmh, set(slow.speeds_kmh.values())
        (4.0, {4.0})
        >>> WALK.with_speed(0)
        Traceback (most recent call last):
        ...
        cohesion.errors.CohesionError: vitesse invalide : 0 km/h (attendu plus de 0 et au plus
        200 km/h)
        """
        speed = _check_speed(speed_kmh)
        ratio = speed / self.speed_kmh
        speeds = {k: speed if v == self.speed_kmh else min(v * ratio, MAX_SPEED_KMH)
                  for k, v in self.speeds_kmh.items()}
        return replace(self, speed_kmh=speed, speeds_kmh=speeds)

    def to_dict(self) -> dict[str, object]:
        """The profile as plain JSON-ready data (sets as sorted lists)."""
        return {
            "name": self.name, "label": self.label, "speed_kmh": self.speed_kmh,
            "speeds_kmh": dict(sorted(self.speeds_kmh.items())), "oneway": self.oneway,
            "access_keys": list(self.access_keys), "denied": sorted(self.denied),
            "permission_classes": sorted(self.permission_classes),
            "maxspeed": self.maxspeed, "implied_oneway": sorted(self.implied_oneway)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Profile:
        """The profile :meth:`to_dict` described."""
        return cls(**{key: tuple(value) if key == "access_keys" else value  # type: ignore[arg-type]
                      for key, value in data.items()})


WALK = Profile(
    name="marche", label="à pied", speed_kmh=WALK_SPEED_KMH,
    speeds_kmh=dict.fromkeys(WALK_CLASSES, WALK_SPEED_KMH), oneway=False,
    access_keys=("access", "foot"), denied=frozenset({"no"}),
    permission_classes=PERMISSION_CLASSES)
"""Walking: every walkable class at 5 km/h, both ways, ``foot=no``/``access=no`` excluded."""

DRIVE = Profile(
    name="voiture", label="en voiture", speed_kmh=DRIVE_SPEEDS_KMH["primary"],
    speeds_kmh=DRIVE_SPEEDS_KMH, oneway=True,
    access_keys=("access", "vehicle", "motor_vehicle", "motorcar"),
    denied=frozenset({"no", "private", "agricultural", "forestry", "emergency", "psv"}),
    maxspeed=True, implied_oneway=frozenset({"motorway"}))
"""Driving: :data:`DRIVE_SPEEDS_KMH` or ``maxspeed``, one-way streets respected."""

PROFILES: Mapping[str, Profile] = MappingProxyType({
    "marche": WALK, "walk": WALK, "pieton": WALK, "piéton": WALK, "a pied": WALK,
    "à pied": WALK, "voiture": DRIVE, "drive": DRIVE, "car": DRIVE, "en voiture": DRIVE,
})
"""Built-in profiles by name, French and English spellings."""


def profile(name: str, speed_kmh: float | None = None) -> Profile:
    """The built-in profile of this name, optionally at another speed.

    Parameters
    ----------
    name : str
        ``marche`` (or ``walk``, ``pieton``) or ``voiture`` (or ``drive``), any case.
    speed_kmh : float, optional
        Speed in km/h (:meth:`Profile.with_speed`): a walking speed of 4 km/h for an
        older public, say.

    Raises
    ------
    CohesionError
        For an unknown name (the message lists the choices) or an invalid speed.

    Examples
    --------
    >>> profile("Voiture").label
    'en voiture'
    >>> profile("vélo")
    Traceback (most recent call last):
    ...
    cohesion.errors.CohesionError: profil de déplacement inconnu : 'vélo' (choix possibles :
    marche, voiture ; ou walk, pieton, drive)
    """
    key = " ".join(str(name).strip().lower().split()) if isinstance(name, str) else None
    found = PROFILES.get(key) if key is not None else None
    if found is None:
        raise CohesionError(f"profil de déplacement inconnu : {name!r} (choix possibles : "
                            "marche, voiture ; ou walk, pieton, drive)")
    return found if speed_kmh is None else found.with_speed(speed_kmh)
