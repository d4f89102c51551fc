"""Matching innovations with the structures that can support them, and saying why.

Accompagnants (funders, networks, incubators…) and porteurs de projets declare a
:class:`Profile`: domaines, territories, kinds of support (offered or wanted). For a
record (a project page) or a porteur, :func:`rank_supporters` and
:func:`rank_for_porteur` keep the accompagnants whose territory covers the project,
who share a domaine with it (or accompany every domaine) and offer the support asked
for, and rank them with the reasons of each match.

Territories are ids ``LEVEL:CODE`` of the référentiel (``COM:33063``, ``EPCI:243300316``,
``DEP:33``, ``REG:75``, ``QPV:QN03301M``, ``FRA:FR``); a bare commune code reads as
``COM:``. A commune lies in the département of its code prefix and every place lies
in France; other memberships (EPCI, région, zonages) come from a ``member_of``
function the service plugs in from the référentiel. Everything here is pure: no store,
no clock.

Examples
--------
>>> from cohesion.innovations.records import Record
>>> projet = Record(id="contribution:1", source="contribution", source_key="1",
...                 title="Épicerie solidaire", commune="33063",
...                 domaines=["Alimentation", "Insertion"])
>>> fonds = Profile("Fonds girondin", ("DEP:33",), domaines=("alimentation",),
...                 supports=("financement",))
>>> reseau = Profile("Réseau national", ("FRA:FR",), supports=("mise en réseau",))
>>> ailleurs = Profile("Incubateur lyonnais", ("DEP:69",), domaines=("alimentation",))
>>> best = rank_supporters(projet, [reseau, fonds, ailleurs])
>>> [(match.profile.name, match.score) for match in best]
[('Fonds girondin', 0.59), ('Réseau national', 0.47)]
>>> best[0].reasons
('domaines en commun : Alimentation', 'intervient sur le département 33', 'propose : financement')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cohesion.errors import CohesionError
from cohesion.innovations.records import Record, fold

#: What a profile is: a structure that supports, or a project that seeks support.
PROFILE_KINDS = ("accompagnant", "porteur")
#: The kinds of support a profile offers (accompagnant) or seeks (porteur).
SUPPORT_KINDS = ("financement", "accompagnement", "mise en réseau", "hébergement",
                 "formation", "expertise", "essaimage")
#: The id of the whole country: every place of the référentiel lies in it.
NATION = "FRA:FR"
#: Share of the score of each criterion.
WEIGHTS = {"domaines": 0.5, "territoire": 0.3, "soutien": 0.2}
#: How well a territory of each level fits a project: a local supporter first.
LEVEL_FIT = {"COM": 1.0, "QPV": 1.0, "EPCI": 0.9, "DEP": 0.8, "REG": 0.6, "FRA": 0.4}
#: The fit of a territory of another level (a zonage such as ACV or PVD).
OTHER_LEVEL_FIT = 0.7
#: The fit of a criterion that cannot tell (a generalist, a project without domaines).
NEUTRAL_FIT = 0.5
#: How a territory of each level is named in the reasons.
LEVEL_WORDS = {"COM": "la commune", "QPV": "le quartier prioritaire",
               "EPCI": "l'intercommunalité", "DEP": "le département", "REG": "la région"}

#: The territories a territory lies in (``"COM:33063"`` → ``["EPCI:243300316",
#: "REG:75"]``), as the référentiel knows them.
MemberOf = Callable[[str], Iterable[str]]

_COMMUNE = re.compile(r"(\d{5}|2[AB]\d{3})")
_TERRITORY = re.compile(r"([A-Za-z_]{2,12}):([0-9A-Za-z_-]{1,20})")


def territory_id(code: str) -> str:
    """The territory id ``LEVEL:CODE`` of ``code`` (a bare commune code reads as ``COM:``).

    Raises
    ------
    CohesionError
        When ``code`` is neither a commune code nor ``LEVEL:CODE``.

    Examples
    --------
    >>> territory_id("33063"), territory_id("dep:33"), territory_id("2a004")
    ('COM:33063', 'DEP:33', 'COM:2A004')
    """
    text = code.strip().upper()
    if _COMMUNE.fullmatch(text):
        return f"COM:{text}"
    if not _TERRITORY.fullmatch(text):
        raise CohesionError(f"territoire illisible « {code} » : attendu un code de commune "
                            "(33063) ou NIVEAU:CODE (DEP:33, REG:75, EPCI:243300316, FRA:FR)")
    return text


def departement_of(commune: str) -> str:
    """The département of a commune code: its first two characters, three overseas.

    Examples
    --------
    >>> departement_of("33063"), departement_of("97411"), departement_of("2A004")
    ('33', '974', '2A')
    """
    return commune[:3] if commune.startswith("97") else commune[:2]


def describe(territory: str) -> str:
    """A territory id in words, for the reasons.

    Examples
    --------
    >>> describe("DEP:33"), describe("FRA:FR")
    ('le département 33', 'toute la France')
    """
    if territory == NATION:
        return "toute la France"
    level, _, code = territory.partition(":")
    return f"{LEVEL_WORDS.get(level, 'le territoire ' + level)} {code}"


def places(commune: str | None = None, departement: str | None = None,
           qpv: str | None = None, territories: Iterable[str] = (),
           member_of: MemberOf | None = None) -> frozenset[str]:
    """Every territory a project lies in: its own, those containing them, France.

    Examples
    --------
    >>> sorted(places(commune="33063"))
    ['COM:33063', 'DEP:33', 'FRA:FR']
    >>> sorted(places(commune="33063", member_of=lambda t: ["REG:75"] if t == "DEP:33" else []))
    ['COM:33063', 'DEP:33', 'FRA:FR', 'REG:75']
    """
    found = {territory_id(code) for code in territories}
    if commune:
        found.add(f"COM:{commune}")
    found |= {f"DEP:{departement_of(code[4:])}" for code in found if code.startswith("COM:")}
    if departement:
        found.add(f"DEP:{departement}")
    if qpv:
        found.add(f"QPV:{qpv}")
    pending = list(found)
    while member_of is not None and pending:
        for container in map(territory_id, member_of(pending.pop())):
            if container not in found:
                found.add(container)
                pending.append(container)
    return frozenset(found | {NATION})


def _folded(values: Iterable[str]) -> dict[str, str]:
    return {fold(value): value for value in values}


@dataclass(frozen=True)
class Profile:
    """A structure that supports projects (``accompagnant``), or a ``porteur`` seeking support.

    Territories are normalised to ids (:func:`territory_id`), kinds of support to the
    spelling of :data:`SUPPORT_KINDS` whatever their case and accents.

    Attributes
    ----------
    name : str
    territories : tuple of str
        Where it acts (accompagnant) or where its project is (porteur); one at least.
    kind : str
        One of :data:`PROFILE_KINDS`.
    domaines : tuple of str
        Domaines of the Carrefour's taxonomy; none: every domaine.
    supports : tuple of str
        Kinds of support offered (accompagnant) or sought (porteur).
    description : str
    url : str or None
    account_id : int or None
        The account that manages the profile.
    id : int or None
        Set by the store.

    Raises
    ------
    CohesionError
        When the kind, a kind of support or a territory is unknown, or no territory
        is given.
    """

    name: str
    territories: tuple[str, ...]
    kind: str = "accompagnant"
    domaines: tuple[str, ...] = ()
    supports: tuple[str, ...] = ()
    description: str = ""
    url: str | None = None
    account_id: int | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in PROFILE_KINDS:
            raise CohesionError(f"type de profil inconnu « {self.kind} » (attendu : "
                                f"{' ou '.join(PROFILE_KINDS)})")
        if not self.territories:
            raise CohesionError(f"profil « {self.name} » : au moins un territoire attendu "
                                f"({NATION} pour toute la France)")
        known = _folded(SUPPORT_KINDS)
        unknown = [kind for kind in self.supports if fold(kind) not in known]
        if unknown:
            raise CohesionError(f"type de soutien inconnu « {unknown[0]} » (attendu : "
                                f"{', '.join(SUPPORT_KINDS)})")
        # normalised in place: the dataclass is frozen once built
        object.__setattr__(self, "territories",
                           tuple(dict.fromkeys(map(territory_id, self.territories))))
        object.__setattr__(self, "supports",
                           tuple(dict.fromkeys(known[fold(kind)] for kind in self.supports)))
        object.__setattr__(self, "domaines", tuple(dict.fromkeys(
            domaine.strip() for domaine in self.domaines if domaine.strip())))


@dataclass(frozen=True)
class Match:
    """An accompagnant that fits a project, how well, and why.

    Attributes
    ----------
    profile : Profile
    score : float
        From 0 to 1: the criteria's fits weighted by :data:`WEIGHTS`.
    shared_domaines : tuple of str
        The project's domaines the accompagnant works in.
    territory : str
        The accompagnant's territory that covers the project (the most local one).
    supports : tuple of str
        The kinds of support asked for that it offers (all it offers when none is asked).
    reasons : tuple of str
        The above in French sentences, for the page.
    """

    profile: Profile
    score: float
    shared_domaines: tuple[str, ...]
    territory: str
    supports: tuple[str, ...]
    reasons: tuple[str, ...]


def _fit(territory: str) -> float:
    return LEVEL_FIT.get(territory.partition(":")[0], OTHER_LEVEL_FIT)


def _match(supporter: Profile, domaines: tuple[str, ...], where: frozenset[str],
           wanted: tuple[str, ...]) -> Match | None:
    """How ``supporter`` fits a project; None when it does not."""
    covering = [territory for territory in supporter.territories if territory in where]
    if not covering:
        return None
    territory = max(covering, key=_fit)
    offered = _folded(supporter.domaines)
    shared = tuple(domaine for domaine in domaines if fold(domaine) in offered)
    if not supporter.domaines:
        domain_fit, domain_reason = NEUTRAL_FIT, "accompagne tous les domaines"
    elif not domaines:
        domain_fit, domain_reason = NEUTRAL_FIT, "la fiche ne précise pas ses domaines"
    elif shared:
        domain_fit = len(shared) / len(domaines)
        domain_reason = f"domaines en commun : {', '.join(shared)}"
    else:
        return None
    supports = tuple(kind for kind in wanted if kind in supporter.supports) if wanted \
        else supporter.supports
    if wanted and not supports:
        return None
    support_fit = len(supports) / len(wanted) if wanted else NEUTRAL_FIT
    score = (WEIGHTS["domaines"] * domain_fit + WEIGHTS["territoire"] * _fit(territory)
             + WEIGHTS["soutien"] * support_fit)
    reasons = [domain_reason, f"intervient {'dans' if territory == NATION else 'sur'} "
                              f"{describe(territory)}"]
    if supports:
        reasons.append(f"propose : {', '.join(supports)}")
    return Match(supporter, round(score, 3), shared, territory, supports, tuple(reasons))


def _rank(domaines: Iterable[str], where: frozenset[str], wanted: Iterable[str],
          supporters: Iterable[Profile]) -> list[Match]:
    known = _folded(SUPPORT_KINDS)
    asked = tuple(dict.fromkeys(known[fold(kind)] for kind in wanted if fold(kind) in known))
    found = [match for supporter in supporters if supporter.kind == "accompagnant"
             if (match := _match(supporter, tuple(domaines), where, asked)) is not None]
    return sorted(found, key=lambda m: (-m.score, fold(m.profile.name), m.profile.id or 0))


def rank_supporters(record: Record, supporters: Iterable[Profile], wanted: Iterable[str] = (),
                    member_of: MemberOf | None = None) -> list[Match]:
    """The accompagnants that fit ``record``, best first, with their reasons.

    Parameters
    ----------
    record : Record
        The project: its domaines, commune, département, QPV and territories.
    supporters : iterable of Profile
        Profiles to consider (porteurs among them are skipped).
    wanted : iterable of str
        Kinds of support the project asks for; when given, an accompagnant must offer
        one of them. Unknown kinds are ignored.
    member_of : callable, optional
        The territories a territory lies in (EPCI, région…), from the référentiel.

    Returns
    -------
    list of Match
        Accompagnants whose territory covers the project and who share a domaine with
        it (or accompany every domaine), by decreasing score.
    """
    where = places(record.commune, record.departement, record.qpv, record.territories,
                   member_of)
    return _rank(record.domaines, where, wanted, supporters)


def rank_for_porteur(porteur: Profile, supporters: Iterable[Profile],
                     member_of: MemberOf | None = None) -> list[Match]:
    """The accompagnants that fit a porteur's profile: its domaines, territories, needs.

    Examples
    --------
    >>> porteur = Profile("Tiers-lieu", ("33063",), kind="porteur",
    ...                   domaines=("Culture",), supports=("hébergement",))
    >>> lieu = Profile("Pépinière", ("DEP:33",), supports=("Hebergement", "formation"))
    >>> [(m.profile.name, m.supports) for m in rank_for_porteur(porteur, [lieu])]
    [('Pépinière', ('hébergement',))]
    """
    where = places(territories=porteur.territories, member_of=member_of)
    return _rank(porteur.domaines, where, porteur.supports, supporters)
