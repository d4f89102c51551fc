"""Resolve the commune codes of an imported file, including codes the COG has retired.

INSEE files older than the référentiel (BPE 2009, Filosofi IRIS 2017…) name communes
that have since merged. :func:`resolve_communes` chooses the geography vintage of a
code column and, only when asked (``allow_former_codes``), maps each retired code to
the commune that absorbed it, using the référentiel itself:

- ``former_codes`` (the ``anciensCodes`` of the COG): the codes a commune replaced;
- communes déléguées and associées, whose parent is the commune they joined.

A retired code that leads to more than one commune is never guessed: it stays unknown.
Without the option, any retired code is refused with a located error that says how many
codes the option would map, so that figures are never moved to another commune silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from cohesion.importers.base import commune_codes
from cohesion.importers.reading import Table
from cohesion.store.warehouse import Warehouse

Coverage = Literal["full", "partial"]

#: How many unknown codes an error message lists.
LISTED_CODES = 10


@dataclass
class CommuneResolution:
    """Where each row of a file lies in one geography vintage.

    Attributes
    ----------
    vintage : int
        Geography vintage chosen.
    codes : Series
        Current commune (or arrondissement municipal) code of each row, aligned with
        the input.
    levels : Series
        ``COM`` or ``ARM`` for each row.
    mapped : dict
        Former code → current code, for the codes that were mapped.
    """

    vintage: int
    codes: pd.Series
    levels: pd.Series
    mapped: dict[str, str] = field(default_factory=dict)

    def note(self, consequence: str = "leurs valeurs additionnées") -> str | None:
        """A sentence for the import notes when codes were mapped, else None."""
        if not self.mapped:
            return None
        targets = len(set(self.mapped.values()))
        return (f"{len(self.mapped)} anciens codes de commune rapportés à {targets} communes "
                f"du COG {self.vintage} (allow_former_codes), {consequence}")


def departement_of(codes: pd.Series) -> pd.Series:
    """Département of commune codes: 3 characters overseas (``97x``), else 2."""
    return codes.str[:3].where(codes.str.startswith("97"), codes.str[:2])


def former_commune_map(warehouse: Warehouse, vintage: int) -> pd.Series:
    """Map retired commune codes to the single commune of ``vintage`` they now belong to.

    Returns
    -------
    Series
        Indexed by former code, valued by the current commune code. Codes that lead to
        several communes are left out (they cannot be mapped without guessing).
    """
    links = warehouse.query(
        """SELECT former_code AS former, code AS current FROM former_codes
           WHERE vintage = ? AND level = 'COM'
           UNION
           SELECT code AS former, parent_code AS current FROM memberships
           WHERE vintage = ? AND level IN ('COMD', 'COMA') AND parent_level = 'COM'""",
        [vintage, vintage])
    targets = links.groupby("former")["current"].nunique()
    unique = links[links["former"].isin(targets.index[targets == 1])]
    return unique.drop_duplicates("former").set_index("former")["current"]


@dataclass
class _Candidate:
    vintage: int
    known: pd.Series
    mapping: pd.Series
    unknown: int
    mappable: int
    absent: int


def _departement(code: str) -> str:
    return code[:3] if code.startswith("97") else code[:2]


def _assess(warehouse: Warehouse, unique_codes: list[str], vintage: int,
            allow_former_codes: bool) -> _Candidate:
    # plain sets: a few tens of thousands of codes, compared six times
    known = commune_codes(warehouse, vintage)
    known_set = set(known.index)
    not_known = [code for code in unique_codes if code not in known_set]
    mapping = former_commune_map(warehouse, vintage).reindex(not_known).dropna()
    unknown = len(not_known) - (len(mapping) if allow_former_codes else 0)
    resolved = known_set.intersection(unique_codes)
    if allow_former_codes:
        resolved |= set(mapping)
    # a commune of a département the file covers but absent from it: a sign that the
    # file follows another geography (for files listing every commune of a département)
    covered = {_departement(code) for code in unique_codes}
    absent = sum(1 for code, level in known.items()
                 if level == "COM" and code not in resolved and _departement(code) in covered)
    return _Candidate(vintage, known, mapping, unknown, len(mapping), absent)


def resolve_communes(warehouse: Warehouse, table: Table, codes: pd.Series, column: str, *,
                     vintage: int | None = None, allow_former_codes: bool = False,
                     coverage: Coverage = "full") -> CommuneResolution:
    """Choose the geography vintage of a commune code column and resolve every row.

    Parameters
    ----------
    warehouse : Warehouse
        Holds the référentiel.
    table : Table
        The file being read (for error locations).
    codes : Series
        Commune codes, one per row of ``table.frame`` (stripped strings).
    column : str
        Name of the code column, for error messages.
    vintage : int, optional
        Geography vintage to use; when None every built vintage is tried.
    allow_former_codes : bool
        Map retired codes to their current commune (see the module docstring).
    coverage : {"full", "partial"}
        ``full`` for files listing every commune of the départements they cover (BPE):
        the vintage that knows every code, needs the fewest mapped codes and leaves out
        the fewest communes of those départements wins, ties going to the latest.
        ``partial`` for files covering only some communes (IRIS files: large communes
        only): the earliest vintage that knows every code wins, the closest to the
        file's own, older geography.

    Returns
    -------
    CommuneResolution

    Raises
    ------
    InputFileError
        At the first row whose code is unknown in the chosen vintage, listing the
        unknown codes and, when some are retired codes, the option that maps them.
    """
    candidates = [warehouse.require_vintage(vintage)] if vintage is not None \
        else warehouse.vintages()
    if not candidates:
        raise table.error("le référentiel est vide : lancez `cohesion build` avant d'importer")
    # millions of rows (a national BPE) but some 35,000 distinct codes: work on those
    inverse, uniques = pd.factorize(codes, use_na_sentinel=False)
    unique_codes = [str(code) for code in uniques]
    assessed = [_assess(warehouse, unique_codes, v, allow_former_codes) for v in candidates]
    if coverage == "full":
        best = min(assessed, key=lambda c: (c.unknown, c.mappable, c.absent, -c.vintage))
    else:
        best = min(assessed, key=lambda c: (c.unknown, c.mappable, c.vintage))
    mapping = best.mapping if allow_former_codes else best.mapping.iloc[:0]
    unique_current = pd.Series(unique_codes, dtype=object)
    unique_current = unique_current.map(mapping).fillna(unique_current)
    unique_levels = unique_current.map(best.known)
    current = pd.Series(unique_current.to_numpy()[inverse], index=codes.index)
    levels = pd.Series(unique_levels.to_numpy()[inverse], index=codes.index)
    if best.unknown:
        unknown_rows = levels.isna().to_numpy()
        row = int(np.argmax(unknown_rows))
        listed = [code for code, level in zip(unique_codes, unique_levels, strict=True)
                  if pd.isna(level)][:LISTED_CODES]
        message = (f"{best.unknown} codes de commune inconnus dans le COG {best.vintage} (le "
                   f"millésime le plus proche) : {', '.join(listed)}"
                   f"{'…' if best.unknown > LISTED_CODES else ''}")
        if best.mappable and not allow_former_codes:
            message += (f" ; {best.mappable} d'entre eux sont d'anciens codes de communes du COG "
                        f"{best.vintage} : importez avec allow_former_codes pour rattacher "
                        "leurs lignes à la commune actuelle correspondante")
        raise table.error(message, row=row, column=column,
                          expected=f"un code de commune du COG {best.vintage}",
                          found=codes.iloc[row])
    return CommuneResolution(best.vintage, current, levels, dict(mapping.items()))
