"""The money of public policies: programmes, dispositifs and funding lines.

A **funding line** is one funded post or one grant: who gets what (beneficiary, amount,
posts), when (year), where (contrat de ville, commune, département, région) and through
which dispositif of which budget programme. The dispositifs and programmes are declared
here, with their French labels, as constants (:data:`PROGRAMMES`, :data:`DISPOSITIFS`):

- programme 147 « Politique de la ville »: the **adultes-relais** posts and the **postes
  FONJEP** that the State funds in associations of the quartiers prioritaires;
- programme 119 « Concours financiers aux collectivités territoriales et à leurs
  groupements »: the State's dotations d'investissement, **DETR**, **DSIL** and **DSID**.

The rest of the module is pure functions on DataFrames that detect the problems of the
real files (ANCT's posts 2020-2025, DGCL's dotations 2019) so that the importers can
report them and never count money twice: years given as text, exact duplicate rows,
the same post on several rows (:func:`resolve_posts`, whose rule is documented there
and in ``docs/policies.md``), a list of the year chained after another one
(:func:`chained_lists`) and a year that looks partial (:func:`partial_year`).
Nothing here reads a file or the warehouse: :mod:`cohesion.importers.funding` does.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from cohesion.errors import CohesionError

__all__ = [
    "DISPOSITIFS",
    "PARTIAL_YEAR_THRESHOLD",
    "PROGRAMMES",
    "THEMES",
    "Dispositif",
    "PostResolution",
    "Programme",
    "UnknownDispositifError",
    "chained_lists",
    "content_key",
    "counted",
    "dispositif",
    "dispositif_from_name",
    "exact_duplicates",
    "format_euros",
    "funding_key",
    "listings",
    "normalise_themes",
    "parse_amounts",
    "parse_years",
    "partial_year",
    "resolve_posts",
    "siret_and_siren",
    "text_values",
]


@dataclass(frozen=True)
class Programme:
    """A programme of the State budget (LOLF), which a dispositif is paid from.

    Attributes
    ----------
    code : str
        Number of the programme (``"147"``).
    label : str
        Its official French title.
    mission : str
        The mission of the budget it belongs to.
    """

    code: str
    label: str
    mission: str


#: The budget programmes of the dispositifs, by code.
PROGRAMMES: dict[str, Programme] = {
    "147": Programme("147", "Politique de la ville", "Cohésion des territoires"),
    "119": Programme("119", "Concours financiers aux collectivités territoriales et à leurs "
                     "groupements", "Relations avec les collectivités territoriales"),
}


@dataclass(frozen=True)
class Dispositif:
    """A way the State funds something: a kind of post, a dotation.

    Attributes
    ----------
    id : str
        Identifier, ASCII and lower case (``adultes-relais``, ``detr``).
    label : str
        French label, as the administration writes it.
    programme : str
        Code of its budget programme (a key of :data:`PROGRAMMES`).
    description : str
        What it funds, in one sentence.
    counts_posts : bool
        Whether a funding line is a post (adultes-relais, FONJEP) rather than a grant.

    Examples
    --------
    >>> DISPOSITIFS["adultes-relais"].amount_variable
    'montant_adultes_relais'
    >>> DISPOSITIFS["fonjep"].posts_variable, DISPOSITIFS["detr"].posts_variable
    ('postes_fonjep', None)
    >>> DISPOSITIFS["dsil"].programme_label
    'Concours financiers aux collectivités territoriales et à leurs groupements'
    """

    id: str
    label: str
    programme: str
    description: str
    counts_posts: bool

    @property
    def amount_variable(self) -> str:
        """Variable id of the amounts (``montant_adultes_relais``), in euros."""
        return f"montant_{self.id.replace('-', '_')}"

    @property
    def posts_variable(self) -> str | None:
        """Variable id of the number of posts (``postes_fonjep``), None for grants."""
        return f"postes_{self.id.replace('-', '_')}" if self.counts_posts else None

    @property
    def programme_label(self) -> str:
        """French title of the dispositif's programme."""
        return PROGRAMMES[self.programme].label


#: Every dispositif the funding model knows, by id.
DISPOSITIFS: dict[str, Dispositif] = {d.id: d for d in (
    Dispositif("adultes-relais", "Adultes-relais", "147",
               "Aide de l'État à un poste de médiation sociale (adulte-relais) dans les "
               "quartiers prioritaires, versée à l'employeur", True),
    Dispositif("fonjep", "Postes FONJEP politique de la ville", "147",
               "Aide de l'État au poste d'un animateur associatif dans les quartiers "
               "prioritaires, versée par le Fonds de coopération de la jeunesse et de "
               "l'éducation populaire (FONJEP)", True),
    Dispositif("detr", "Dotation d'équipement des territoires ruraux (DETR)", "119",
               "Subvention d'investissement aux communes et EPCI ruraux", False),
    Dispositif("dsil", "Dotation de soutien à l'investissement local (DSIL)", "119",
               "Subvention d'investissement aux communes et EPCI pour les grandes "
               "priorités de l'État", False),
    Dispositif("dsid", "Dotation de soutien à l'investissement des départements (DSID)",
               "119", "Subvention d'investissement aux départements", False),
)}

#: Spellings the files use for the dispositifs, after :func:`_name_key`.
_ALIASES = {"adulte relais": "adultes-relais", "adultes relais": "adultes-relais",
            "postes fonjep": "fonjep", "fonjep politique de la ville": "fonjep"}


class UnknownDispositifError(CohesionError):
    """A dispositif name that is not one of :data:`DISPOSITIFS`."""


def _name_key(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


def dispositif(name: str, among: tuple[str, ...] | None = None) -> Dispositif:
    """The dispositif called ``name`` (any case, ``-``, ``_`` or space), among ``among``.

    Parameters
    ----------
    name : str
        ``adultes-relais``, ``adulte_relais``, ``FONJEP``, ``DETR``…
    among : tuple of str, optional
        Ids allowed here (default: all of :data:`DISPOSITIFS`).

    Raises
    ------
    UnknownDispositifError
        Listing the valid names.

    Examples
    --------
    >>> dispositif("Adulte_Relais").id, dispositif("DSIL").programme
    ('adultes-relais', '119')
    >>> dispositif("detr", among=("adultes-relais", "fonjep"))
    Traceback (most recent call last):
    ...
    cohesion.policies.funding.UnknownDispositifError: dispositif inconnu : 'detr' (attendu
    adultes-relais ou fonjep)
    """
    allowed = among or tuple(DISPOSITIFS)
    key = _name_key(str(name))
    found = _ALIASES.get(key, key.replace(" ", "-"))
    if found not in allowed:
        raise UnknownDispositifError(f"dispositif inconnu : {name!r} (attendu "
                                     f"{', '.join(allowed[:-1])} ou {allowed[-1]})")
    return DISPOSITIFS[found]


def dispositif_from_name(file_name: str) -> Dispositif | None:
    """The dispositif a file's name announces (ANCT's ``adulte-relais-2024.json``…).

    Examples
    --------
    >>> dispositif_from_name("adulte-relais-2024.json").id
    'adultes-relais'
    >>> dispositif_from_name("postes-fonjep-2025.json").id
    'fonjep'
    >>> dispositif_from_name("postes.json") is None
    True
    """
    name = file_name.lower()
    if re.search(r"adultes?[\s_\-]?relais", name):
        return DISPOSITIFS["adultes-relais"]
    if "fonjep" in name:
        return DISPOSITIFS["fonjep"]
    return None


# -- values of the files ----------------------------------------------------------------

def text_values(values: pd.Series) -> pd.Series:
    """Which values are text (``"2021"``) rather than JSON numbers.

    Examples
    --------
    >>> text_values(pd.Series([2021, "2021", None], dtype=object)).tolist()
    [False, True, False]
    """
    return values.map(lambda value: isinstance(value, str)).astype(bool)


def parse_years(values: pd.Series) -> pd.Series:
    """Years as integers, from numbers or text; missing (``<NA>``) where not a year.

    A year is four digits, 1900 to 2100; an integral float (``2021.0``) is accepted,
    a boolean is not.

    Examples
    --------
    >>> parse_years(pd.Series([2021, "2022", " 2023 ", 2024.0, "21", True, None],
    ...                       dtype=object)).tolist()
    [2021, 2022, 2023, 2024, <NA>, <NA>, <NA>]
    """
    def year(value: object) -> int | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, str):
            text = value.strip()
            number = int(text) if re.fullmatch(r"\d{4}", text) else None
        elif isinstance(value, int | float | np.integer | np.floating) and \
                float(value).is_integer():
            number = int(value)
        else:
            return None
        return number if number is not None and 1900 <= number <= 2100 else None

    return pd.Series([year(v) for v in values], index=values.index, dtype="Int64")


def parse_amounts(values: pd.Series) -> pd.Series:
    """Amounts in euros from numbers or text (``"7164"``, ``"7 164,50"``); NaN if not.

    Infinite values, booleans and missing values are NaN: the caller refuses them.

    Examples
    --------
    >>> parse_amounts(pd.Series([7164, 19875.06, "7 164,50", "abc", None, True],
    ...                         dtype=object)).tolist()
    [7164.0, 19875.06, 7164.5, nan, nan, nan]
    """
    def amount(value: object) -> float:
        if isinstance(value, bool) or value is None:
            return np.nan
        if isinstance(value, str):
            text = re.sub(r"[\s\u00a0\u202f]", "", value).replace(",", ".")
            if not re.fullmatch(r"-?\d+(\.\d+)?", text):
                return np.nan
            value = text
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return np.nan
        return number if np.isfinite(number) else np.nan

    return pd.Series([amount(v) for v in values], index=values.index, dtype="float64")


def siret_and_siren(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    """SIRET (14 digits, spaces removed) and SIREN (its first 9) of ``codes``, else None.

    ANCT's ``code_tiers`` is the SIRET of an adultes-relais employer but the name of a
    FONJEP association: a name is not an identifier.

    Examples
    --------
    >>> siret, siren = siret_and_siren(pd.Series(["775 544 026 01284", "CIDFF", None]))
    >>> siret.tolist(), siren.tolist()
    (['77554402601284', None, None], ['775544026', None, None])
    """
    compact = codes.astype("string").str.replace(r"\s", "", regex=True)
    is_siret = compact.str.fullmatch(r"\d{14}").fillna(False).astype(bool)
    siret = compact.where(is_siret).astype(object).where(is_siret, None)
    siren = siret.map(lambda s: s[:9] if isinstance(s, str) else None)
    return siret, siren


#: The 8 thematic categories of the dotations d'investissement (DGCL/ANCT dictionary).
THEMES: dict[int, str] = {
    1: "Santé, sanitaire et social",
    2: "Economie et emploi",
    3: "Environnement, transition énergétique et écologie",
    4: "Education",
    5: "Actions et services publics",
    6: "Mise aux normes et sécurisation",
    7: "Construction, habitat, urbanisme et transport",
    8: "Contrat de Ruralité",
}


def normalise_themes(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The dictionary's label of each ``N - label`` category, and which were spelt otherwise.

    The 2019 file writes the same category several ways (« Actions et Services
    publics », « …urbanisme et transports », trailing spaces): the number decides.
    A value without a known number is kept as written (stripped); an empty one is None.

    Returns
    -------
    themes : Series
        Labels of :data:`THEMES`.
    variant : Series of bool
        Rows whose text differs from ``N - label`` of the dictionary.

    Examples
    --------
    >>> themes, variant = normalise_themes(pd.Series(
    ...     ["5 - Actions et Services publics", "5 - Actions et services publics", ""]))
    >>> themes.tolist(), variant.tolist()
    (['Actions et services publics', 'Actions et services publics', None], [True, False, False])
    """
    text = values.fillna("").astype(str).str.strip()
    number = pd.to_numeric(text.str.extract(r"^(\d+)\s*-", expand=False), errors="coerce")
    label = number.map(THEMES)
    canonical = number.map(lambda n: f"{int(n)} - {THEMES[int(n)]}"
                           if pd.notna(n) and int(n) in THEMES else None)
    themes = label.where(label.notna(), text.where(text != "", None))
    themes = themes.astype(object).where(themes.notna(), None)
    variant = canonical.notna() & (values.fillna("").astype(str) != canonical)
    return themes, variant.astype(bool)


# -- keys and duplicates ----------------------------------------------------------------

def funding_key(dispositif_id: str, year: int, ident: str) -> str:
    """The ``line_key`` of a funding line: ``{dispositif}:{year}:{id}``.

    Examples
    --------
    >>> funding_key("adultes-relais", 2024, "00113R000103")
    'adultes-relais:2024:00113R000103'
    """
    return f"{dispositif_id}:{year}:{ident}"


def content_key(frame: pd.DataFrame) -> pd.Series:
    """A short hash of each row's canonical content (its values as text, in order).

    The key of a line whose file has no identifier: identical rows share it.

    Examples
    --------
    >>> rows = pd.DataFrame({"a": ["x", "x", "y"], "b": [1.0, 1.0, None]})
    >>> keys = content_key(rows)
    >>> keys[0] == keys[1], keys[0] == keys[2], len(keys[0])
    (True, False, 17)
    """
    text = frame.astype(object).where(frame.notna(), "\x00").astype(str)
    joined = text.agg("\x1f".join, axis=1)
    return joined.map(lambda row: "h" + hashlib.sha256(row.encode()).hexdigest()[:16])


def exact_duplicates(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.Series:
    """Rows identical, in every one of ``columns``, to an earlier row (None equals None).

    Examples
    --------
    >>> rows = pd.DataFrame({"id": ["A", "A", "A"], "cv": ["CV1", "CV1", None]})
    >>> exact_duplicates(rows).tolist()
    [False, True, False]
    """
    chosen = frame[columns] if columns is not None else frame
    return _row_hashes(chosen).duplicated()


def _row_hashes(frame: pd.DataFrame) -> pd.Series:
    """One 64-bit hash per row of the values (missing values hash alike)."""
    canonical = frame.astype(object).where(frame.notna(), None)
    return pd.util.hash_pandas_object(canonical.astype(str), index=False)


def listings(keys: pd.DataFrame) -> pd.Series:
    """Number each run of consecutive rows with the same ``keys``, in file order.

    A post's rows normally follow one another: they are one *listing*. When the same
    post comes back further down, after other posts, it starts a new listing.

    Examples
    --------
    >>> listings(pd.DataFrame({"id": ["A", "A", "B", "A"]})).tolist()
    [1, 1, 2, 3]
    """
    changed = (keys != keys.shift()).any(axis=1)
    return changed.cumsum().astype("int64")


def chained_lists(ids: pd.Series, max_lists: int = 4) -> pd.Series | None:
    """Which list each row belongs to, when a sorted file chains a few sorted lists.

    ANCT's ``postes-fonjep-2025.json`` is the 2024 list relabelled 2025 (rows 1 to
    1,592) followed by the 2025 list (rows 1,593 to 3,162), each sorted by post: the id
    order restarts once. A file whose order restarts at most ``max_lists - 1`` times is
    read as that many lists; an unsorted file (hundreds of restarts) as none.

    Returns
    -------
    Series of int or None
        List number (0, 1…) of each row, or None when the file is not a few chained
        sorted lists.

    Examples
    --------
    >>> chained_lists(pd.Series(["D1", "D2", "D3", "D1", "D3"])).tolist()
    [0, 0, 0, 1, 1]
    >>> chained_lists(pd.Series(["D1", "D2"])) is None
    True
    >>> chained_lists(pd.Series(["D2", "D1", "D3", "D0", "D5", "D4"]), max_lists=3) is None
    True
    """
    text = ids.astype(str).reset_index(drop=True)
    restarts = (text < text.shift()).fillna(False).astype(bool)
    if not 1 <= int(restarts.sum()) <= max_lists - 1:
        return None
    return pd.Series(restarts.cumsum().to_numpy(), index=ids.index, dtype="int64")


# -- the same post on several rows ------------------------------------------------------

@dataclass
class PostResolution:
    """Posts of a file once each, and what was done to get there.

    Attributes
    ----------
    lines : DataFrame
        One row per (year, post): the columns of the input (those of the first row of
        the post's kept listing), ``amount`` summed as the rule says, ``rows`` the
        number of distinct rows merged.
    exact_duplicates : int
        Rows identical to an earlier row of the file.
    same_id : int
        Posts (year, id) with several distinct rows: each is one of the three below
        (or several of them).
    relisted : int
        Posts listed again further down the file with another content: their last
        listing replaced the earlier ones.
    replaced_rows : int
        Distinct rows of those earlier listings that the last one does not repeat.
    replaced_amount : float
        Their amounts, not counted.
    attachments : int
        Posts whose kept rows have one amount but several contrats de ville,
        départements, SIRET or names: counted once.
    tranches : int
        Posts whose kept rows have several amounts (parts of the year): summed.
    """

    lines: pd.DataFrame
    exact_duplicates: int = 0
    same_id: int = 0
    relisted: int = 0
    replaced_rows: int = 0
    replaced_amount: float = 0.0
    attachments: int = 0
    tranches: int = 0

    def notes(self) -> list[str]:
        """The problems found, with their counts, as sentences for the import notes.

        Examples
        --------
        >>> notes = PostResolution(pd.DataFrame(), exact_duplicates=10, same_id=2,
        ...                        attachments=2).notes()
        >>> for note in notes:
        ...     print(note)
        10 lignes en double exact : gardées une fois
        2 postes sur plusieurs lignes différentes la même année : 2 rattachés à plusieurs
        contrats de ville, départements, SIRET ou noms pour un même montant, comptés une fois
        >>> PostResolution(pd.DataFrame(), exact_duplicates=1).notes()
        ['1 ligne en double exact : gardée une fois']
        """
        notes = []
        if self.exact_duplicates:
            notes.append(counted(self.exact_duplicates, "ligne en double exact : gardée une "
                                 "fois", "lignes en double exact : gardées une fois"))
        if self.same_id:
            parts = []
            if self.relisted:
                replaced = counted(self.replaced_rows, "ligne antérieure écartée",
                                   "lignes antérieures écartées")
                parts.append(counted(self.relisted, "listé", "listés") + " à nouveau plus loin "
                             "dans le fichier avec un autre contenu, la dernière liste "
                             f"remplaçant les précédentes ({replaced}, "
                             f"{format_euros(self.replaced_amount)})")
            if self.attachments:
                parts.append(counted(self.attachments, "rattaché", "rattachés") + " à plusieurs "
                             "contrats de ville, départements, SIRET ou noms pour un même "
                             "montant, " + ("compté" if self.attachments == 1 else "comptés")
                             + " une fois")
            if self.tranches:
                parts.append(counted(self.tranches, "versé", "versés") + " en plusieurs "
                             "tranches de montants différents, additionnées")
            notes.append(counted(self.same_id, "poste", "postes") + " sur plusieurs lignes "
                         "différentes la même année : " + " ; ".join(parts))
        return notes


def resolve_posts(rows: pd.DataFrame, id_column: str = "id", year_column: str = "year",
                  amount_column: str = "amount") -> PostResolution:
    """One line per post and year, counting each euro once.

    The rule, read from the ANCT files of 2020-2025 (see ``docs/policies.md``):

    1. **exact duplicates** (every column equal, ``None`` equal to ``None``) are kept
       once;
    2. a post's **listing** is a run of consecutive rows with its id (files are
       written post by post). A post listed again further down the file, after other
       posts, is a later version of it: its **last listing is kept**, the earlier ones
       are dropped (``postes-fonjep-2025.json`` lists its 2024 posts, then the 2025
       ones: 116 posts change amount there, e.g. 7 164 € then 5 970 €, ten months);
    3. in the kept listing, rows with the **same amount** but another contrat de ville,
       département, SIRET or name are the same post under several attachments: it is
       **counted once**, with the first row's attachment (a post of Grand Paris Sud is
       listed under ``CN07702M`` and ``CN09103M``);
    4. rows with **different amounts** are parts of the year (a post renewed or changed
       in the year: 1 791 € + 5 373 € = 7 164 €, one FONJEP unit): the distinct
       amounts are **summed**, each once.

    Parameters
    ----------
    rows : DataFrame
        One row per record, in file order, with ``id_column``, ``year_column`` and
        ``amount_column``; every column is compared for duplicates.

    Returns
    -------
    PostResolution

    Examples
    --------
    >>> rows = pd.DataFrame({
    ...     "id":     ["A",   "A",   "B",    "B",    "C",    "C",    "A"],
    ...     "year":   [2025] * 7,
    ...     "amount": [7164., 7164., 1791., 5373., 7164., 7164., 5970.],
    ...     "cv":     ["CV1", "CV1", "CV2",  "CV2",  "CN1",  "CN2",  "CV1"]})
    >>> result = resolve_posts(rows)
    >>> result.lines[["id", "amount", "cv"]].values.tolist()
    [['B', 7164.0, 'CV2'], ['C', 7164.0, 'CN1'], ['A', 5970.0, 'CV1']]
    >>> (result.exact_duplicates, result.same_id, result.relisted, result.attachments,
    ...  result.tranches)
    (1, 3, 1, 1, 1)
    """
    rows = rows.reset_index(drop=True)
    keys = [year_column, id_column]
    hashes = _row_hashes(rows)
    duplicate = hashes.duplicated()
    distinct_rows = rows[~duplicate.to_numpy()]
    per_post = distinct_rows.groupby(keys, sort=False).size()
    same_id = int((per_post > 1).sum())

    run = listings(rows[keys])
    last = run.groupby([rows[year_column], rows[id_column]]).transform("max")
    in_last = (run == last).to_numpy()
    kept = rows[in_last][~hashes[in_last].duplicated().to_numpy()]
    kept_hashes = hashes[kept.index]
    earlier = rows[~in_last & ~duplicate.to_numpy()]
    # earlier rows that the last listing of their post does not repeat: replaced
    replaced = earlier[~hashes[earlier.index].isin(set(kept_hashes))]
    relisted = int(replaced.groupby(keys, sort=False).ngroups) if len(replaced) else 0

    cents = (kept[amount_column] * 100).round()
    distinct_amounts = kept[~pd.concat([kept[keys], cents.rename("_cents")], axis=1)
                            .duplicated().to_numpy()]
    amount = distinct_amounts.groupby(keys, sort=False)[amount_column].sum()
    amounts_per_post = distinct_amounts.groupby(keys, sort=False).size()
    rows_per_post = kept.groupby(keys, sort=False).size()
    lines = kept.drop_duplicates(keys).set_index(keys)
    lines[amount_column] = amount.reindex(lines.index)
    lines["rows"] = rows_per_post.reindex(lines.index)
    lines = lines.reset_index()[[*rows.columns, "rows"]]
    attachments = int(((rows_per_post > 1) & (amounts_per_post.reindex(
        rows_per_post.index) == 1)).sum())
    tranches = int((amounts_per_post > 1).sum())
    return PostResolution(lines.reset_index(drop=True), int(duplicate.sum()), same_id,
                          relisted, len(replaced), float(replaced[amount_column].sum()),
                          attachments, tranches)


# -- a partial year ---------------------------------------------------------------------

#: Fall from the previous year, in posts or in amount, beyond which a year is flagged.
PARTIAL_YEAR_THRESHOLD = 0.20


def partial_year(year: int, posts: float, amount: float,
                 previous: tuple[float, float] | None = None, *,
                 file_date: date | None = None, today: date | None = None,
                 threshold: float = PARTIAL_YEAR_THRESHOLD) -> list[str]:
    """Why the funding of ``year`` may be partial (empty list: no sign of it).

    Signs: the year was not over when the file was written (``file_date`` before 31
    December) or is not over ``today``; the posts or the amount fell by more than
    ``threshold`` from the previous year (``previous`` = its posts and amount). The
    year is flagged, never dropped.

    The default threshold, 20 %, is read from the files: adultes-relais posts fell
    12.8 % in 2024, the year the 2024 contrats de ville replaced those of 2015, with
    the amount per post unchanged; in 2025 they fell 14.2 % and the amount 73 %
    (7 164 € a post instead of 22 810 €), the sign of a year not yet paid in full.

    Examples
    --------
    >>> partial_year(2025, 4051, 29_021_364, (4721, 107_688_889.81))
    ['montant en baisse de 73,1 % par rapport à 2024 (postes : -14,2 %)']
    >>> partial_year(2024, 4721, 107_688_889.81, (5412, 122_071_610.76))
    []
    >>> partial_year(2025, 10, 1000.0, file_date=date(2025, 6, 30))
    ['fichier daté du 30/06/2025, avant la fin de l’année 2025']
    """
    reasons = []
    if file_date is not None and file_date < date(year, 12, 31):
        reasons.append(f"fichier daté du {file_date:%d/%m/%Y}, avant la fin de "
                       f"l’année {year}")
    if today is not None and today.year <= year:
        reasons.append(f"l’année {year} n’est pas terminée")
    if previous is not None:
        before_posts, before_amount = previous
        posts_change = posts / before_posts - 1 if before_posts else np.nan
        amount_change = amount / before_amount - 1 if before_amount else np.nan
        falls = []
        if posts_change < -threshold:
            falls.append(f"postes en baisse de {_percent(-posts_change)} par rapport à "
                         f"{year - 1}")
        if amount_change < -threshold:
            falls.append(f"montant en baisse de {_percent(-amount_change)} par rapport à "
                         f"{year - 1}")
        if falls:
            details = []
            if not any(f.startswith("postes") for f in falls) and np.isfinite(posts_change):
                details.append(f"postes : {_signed_percent(posts_change)}")
            if not any(f.startswith("montant") for f in falls) and \
                    np.isfinite(amount_change):
                details.append(f"montant : {_signed_percent(amount_change)}")
            reasons.append(", ".join(falls) + (f" ({', '.join(details)})" if details else ""))
    return reasons


def counted(count: int, singular: str, plural: str) -> str:
    """``count`` and the words that agree with it, for the import notes.

    Examples
    --------
    >>> counted(1, "poste", "postes"), counted(0, "poste", "postes")
    ('1 poste', '0 poste')
    >>> counted(1204, "ligne écartée", "lignes écartées")
    '1204 lignes écartées'
    """
    return f"{count} {singular if count < 2 else plural}"


def format_euros(amount: float) -> str:
    """An amount in euros, French style.

    Examples
    --------
    >>> format_euros(1234567.5)
    '1 234 567,50 €'
    """
    return f"{amount:,.2f} €".replace(",", " ").replace(".", ",")


def _percent(share: float) -> str:
    return f"{share * 100:.1f} %".replace(".", ",")


def _signed_percent(share: float) -> str:
    return ("+" if share >= 0 else "-") + _percent(abs(share))
