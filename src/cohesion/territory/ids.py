"""Typed territory identifiers: level, code and geography vintage in one value.

A territory is only meaningful in a geography vintage (millésime du COG): the commune
``27058`` exists in 2022 but was merged into Les Trois Lacs in 2023. Cohésion therefore
names territories as ``LEVEL:CODE@VINTAGE``, for example ``COM:93014@2026`` for
Clichy-sous-Bois in the 2026 COG.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cohesion.errors import CohesionError
from cohesion.territory.levels import BUILTIN_LEVELS

_ID = re.compile(r"^(?P<level>[A-Z][A-Z0-9_]*):(?P<code>[^@\s]+)@(?P<vintage>\d{4})$")


@dataclass(frozen=True, order=True)
class TerritoryId:
    """A territory named by level, code and vintage.

    Examples
    --------
    >>> TerritoryId.parse("COM:93014@2026")
    TerritoryId(level='COM', code='93014', vintage=2026)
    >>> str(TerritoryId("DEP", "2A", 2024))
    'DEP:2A@2024'
    >>> TerritoryId.parse("COM:9301@2026")
    Traceback (most recent call last):
    ...
    cohesion.errors.CohesionError: 'COM:9301@2026' : le code '9301' n'est pas un code valide ...
    """

    level: str
    code: str
    vintage: int

    def __post_init__(self) -> None:
        level = BUILTIN_LEVELS.get(self.level)
        if level is not None and not re.fullmatch(level.code_pattern, self.code):
            raise CohesionError(
                f"{self.level}:{self.code}@{self.vintage!r} : le code {self.code!r} n'est pas un "
                f"code valide de l'échelon {level.label} (motif attendu : {level.code_pattern})"
            )

    @classmethod
    def parse(cls, text: str) -> TerritoryId:
        """Parse ``LEVEL:CODE@VINTAGE``; raise :class:`CohesionError` otherwise."""
        match = _ID.match(text.strip())
        if match is None:
            raise CohesionError(
                f"{text!r} n'est pas un identifiant de territoire : attendu "
                "ÉCHELON:CODE@MILLÉSIME, "
                "par exemple COM:93014@2026 ou DEP:2A@2024"
            )
        try:
            return cls(match["level"], match["code"], int(match["vintage"]))
        except CohesionError as error:
            raise CohesionError(f"{text!r} : {str(error).split(' : ', 1)[1]}") from None

    def __str__(self) -> str:
        return f"{self.level}:{self.code}@{self.vintage}"
