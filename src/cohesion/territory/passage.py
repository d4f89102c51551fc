"""Passage tables between geography vintages, and conversion of values through them.

Communes merge (communes nouvelles) and, more rarely, split (a commune déléguée is
restored as a commune). A passage table lists, for each commune of vintage *a*, the
communes of vintage *b* it became, with the share of it that went to each:

======  ======  ======  =====
from    to      weight  kind
======  ======  ======  =====
27058   27676   1.0     merge
60054   60054   0.71    split
60054   60694   0.29    split
======  ======  ======  =====

Tables between adjacent vintages are derived from the référentiel itself: the
``anciensCodes`` of each commune (mergers) and the communes déléguées and associées of
the earlier vintage (splits). Tables between distant vintages are compositions of
adjacent ones, backwards as well as forwards.

Converting a count sums it over merged communes and shares it over split ones in
proportion to their legal population in the target vintage; integer counts are shared
with the largest-remainder method so that totals are preserved exactly. A ratio is
converted by converting its numerator and denominator (see
:mod:`cohesion.indicators`), never by averaging ratios.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse

PASSAGE_COLUMNS = ["from_vintage", "from_code", "to_vintage", "to_code", "weight", "kind"]


def adjacent_passage(
    old: pd.DataFrame, new: pd.DataFrame, new_former_codes: pd.DataFrame
) -> pd.DataFrame:
    """Derive the commune passage table from one vintage to a later one.

    Parameters
    ----------
    old, new : DataFrame
        Communes of the earlier and later vintage: columns ``level`` (``COM``, ``COMD``,
        ``COMA``), ``code``, ``vintage``, ``population``, and for COMD/COMA ``parent``
        (the commune they belong to).
    new_former_codes : DataFrame
        ``code``, ``former_code``: the ``anciensCodes`` of the later vintage's communes.

    Returns
    -------
    DataFrame
        Columns ``from_vintage, from_code, to_vintage, to_code, weight, kind`` where kind
        is ``same``, ``merge`` or ``split``. The weights of one ``from_code`` sum to 1.

    Raises
    ------
    ValueError
        If a commune of the earlier vintage has no successor (the référentiel would be
        inconsistent: a commune never disappears without a trace in ``anciensCodes``).
    """
    old_vintage, new_vintage = int(old["vintage"].iloc[0]), int(new["vintage"].iloc[0])
    old_communes = set(old.loc[old["level"] == "COM", "code"])
    parent_of = dict(zip(old.loc[old["level"] != "COM", "code"],
                         old.loc[old["level"] != "COM", "parent"], strict=True))
    new_communes = new.loc[new["level"] == "COM", ["code", "population"]]

    candidates = pd.concat([
        pd.DataFrame({"to_code": new_communes["code"], "origin": new_communes["code"]}),
        new_former_codes.rename(columns={"code": "to_code", "former_code": "origin"})[
            ["to_code", "origin"]],
    ])
    candidates = candidates[candidates["to_code"].isin(new_communes["code"])]
    in_old = candidates["origin"].isin(old_communes)
    from_parent = candidates["origin"].map(parent_of)
    # anciensCodes list a commune's whole history: a commune déléguée that kept its
    # attachment is not a change between these two vintages
    new_parent_of = new.loc[new["level"] != "COM"].drop_duplicates("code").set_index("code")[
        "parent"]
    unchanged = from_parent.notna() & (candidates["origin"].map(new_parent_of) == from_parent)
    from_parent = from_parent.mask(unchanged)
    candidates["from_code"] = candidates["origin"].where(in_old, from_parent)
    links = candidates.dropna(subset=["from_code"])[["from_code", "to_code"]].drop_duplicates()

    missing = sorted(old_communes - set(links["from_code"]))
    if missing:
        raise ValueError(
            f"communes de {old_vintage} sans successeur en {new_vintage} : "
            f"{', '.join(missing[:20])}"
        )
    population = new_communes.set_index("code")["population"].astype("float64")
    links = links.assign(population=links["to_code"].map(population).fillna(0.0))
    targets = links.groupby("from_code")["to_code"].transform("size")
    total = links.groupby("from_code")["population"].transform("sum")
    share = np.where(total > 0, links["population"] / total.where(total > 0, 1.0),
                     1.0 / targets)
    links["weight"] = np.where(targets == 1, 1.0, share)
    links["kind"] = passage_kinds(links)
    links["from_vintage"], links["to_vintage"] = old_vintage, new_vintage
    return links[PASSAGE_COLUMNS].sort_values(["from_code", "to_code"]).reset_index(drop=True)


def invert(passage: pd.DataFrame, from_population: pd.Series) -> pd.DataFrame:
    """Return the passage table of the opposite direction.

    A merge read backwards is a split: the merged commune is shared among its former
    communes in proportion to their legal population (``from_population``, indexed by
    code, in the *earlier* vintage).
    """
    back = passage.rename(columns={"from_code": "to_code", "to_code": "from_code",
                                   "from_vintage": "to_vintage", "to_vintage": "from_vintage"})
    pop = back["to_code"].map(from_population).astype("float64").fillna(0.0)
    # the share of the later commune that came from each earlier one
    contribution = pop * back["weight"]
    total = contribution.groupby(back["from_code"]).transform("sum")
    count = back.groupby("from_code")["to_code"].transform("size")
    back["weight"] = np.where(total > 0, contribution / total.where(total > 0, 1.0), 1.0 / count)
    back["kind"] = passage_kinds(back)
    return back[PASSAGE_COLUMNS].sort_values(["from_code", "to_code"]).reset_index(drop=True)


def compose(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Chain two passage tables (a → b then b → c) into one (a → c).

    Codes are matched as integers (factorised once), so chaining five vintages of
    35,000 communes takes milliseconds.
    """
    return _composed([first, second])


def _composed(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The passage tables of consecutive steps chained into one, rows sorted by codes.

    Every code of every step is numbered once, in sorted order, so that chaining works
    on integers and the integer order is the codes' order: each step's rows come out
    sorted by (from_code, to_code) as a table built from strings would be.
    """
    number, codes = pd.factorize(np.concatenate(
        [table[column].to_numpy(dtype=object)
         for table in tables for column in ("from_code", "to_code")]), sort=True)
    size = max(len(codes), 1)
    bounds = np.cumsum([0, *(len(table) for table in tables for _ in range(2))])
    columns = [number[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]
    source, target = columns[0], columns[1]
    weight = tables[0]["weight"].to_numpy(dtype="float64")
    for step, table in enumerate(tables[1:], start=1):
        source, target, weight = _compose_codes(
            source, target, weight, columns[2 * step], columns[2 * step + 1],
            table["weight"].to_numpy(dtype="float64"), size)
    grouped = pd.DataFrame({
        "from_vintage": tables[0]["from_vintage"].iloc[0], "from_code": codes[source],
        "to_vintage": tables[-1]["to_vintage"].iloc[0], "to_code": codes[target],
        "weight": weight})
    grouped["kind"] = passage_kinds(grouped)
    return grouped[PASSAGE_COLUMNS]


def _compose_codes(source: np.ndarray, middle: np.ndarray, weight: np.ndarray,
                   next_source: np.ndarray, target: np.ndarray, next_weight: np.ndarray,
                   size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One chaining of numbered passage rows: (source → middle) then (middle → target).

    Returns the distinct (source, target) pairs in their numbers' order, with the sum
    of the products of the weights of the paths between them.
    """
    order = np.argsort(next_source, kind="stable")
    start = np.searchsorted(next_source[order], middle, "left")
    count = np.searchsorted(next_source[order], middle, "right") - start
    left = np.repeat(np.arange(len(middle)), count)
    # the rows of the next step leaving each row's commune, in their order
    right = order[np.repeat(start, count) + np.arange(count.sum())
                  - np.repeat(np.cumsum(count) - count, count)]
    pairs, pair = np.unique(source[left].astype("int64") * size + target[right],
                            return_inverse=True)
    return pairs // size, pairs % size, np.bincount(pair, weight[left] * next_weight[right],
                                                    len(pairs))


def passage_kinds(passage: pd.DataFrame) -> np.ndarray:
    """Kind of each passage row: ``split``, ``merge``, ``recode`` or ``same``."""
    sources, _ = pd.factorize(passage["from_code"])
    targets, _ = pd.factorize(passage["to_code"])
    from_code, to_code = passage["from_code"].to_numpy(), passage["to_code"].to_numpy()
    return np.select([np.bincount(sources)[sources] > 1, np.bincount(targets)[targets] > 1,
                      from_code != to_code], ["split", "merge", "recode"], default="same")


@dataclass
class Conversion:
    """Values converted to another vintage, with what could not be converted.

    Attributes
    ----------
    values : Series or DataFrame
        Converted values indexed by commune code of the target vintage (one column per
        quantity when a DataFrame was converted).
    unmatched : list of str
        Input codes that are not communes of the source vintage; their values are left
        out of ``values`` and must be reported to the user.
    approximated : list of str
        Target codes whose value was shared from a split commune (an estimate).
    """

    values: pd.Series | pd.DataFrame
    unmatched: list[str] = field(default_factory=list)
    approximated: list[str] = field(default_factory=list)


def convert_counts(values: pd.Series | pd.DataFrame, passage: pd.DataFrame) -> Conversion:
    """Convert counts (additive quantities) through a passage table.

    Parameters
    ----------
    values : Series or DataFrame
        Values indexed by commune code of the passage's source vintage, one column per
        quantity. Missing values (NaN) make the communes they reach missing too: a sum
        with an unknown part is unknown.
    passage : DataFrame
        A passage table (see :func:`adjacent_passage`, :func:`compose`).

    Returns
    -------
    Conversion
        In a column whose values are all integers, shares of split communes are rounded
        with the largest-remainder method, so the converted total equals the input total
        exactly.

    Examples
    --------
    >>> passage = pd.DataFrame({"from_vintage": 2023, "from_code": ["A", "A", "B"],
    ...     "to_vintage": 2024, "to_code": ["A", "C", "A"], "weight": [0.5, 0.5, 1.0],
    ...     "kind": ["split", "split", "merge"]})
    >>> convert_counts(pd.Series({"A": 3, "B": 10}), passage).values.to_dict()
    {'A': 12.0, 'C': 1.0}
    """
    is_series = isinstance(values, pd.Series)
    table = values.to_frame("value") if is_series else values
    sources = pd.Index(passage["from_code"].unique())
    known = sources.get_indexer(table.index) >= 0
    unmatched = sorted(map(str, table.index[~known]))
    table = table[known]
    position = table.index.get_indexer(passage["from_code"])
    rows = passage[position >= 0]
    source = table.to_numpy(dtype="float64")[position[position >= 0]]
    shares = source * rows["weight"].to_numpy()[:, None]
    origin, _ = pd.factorize(rows["from_code"])
    split = np.bincount(origin)[origin] > 1
    if split.any():
        for column in range(shares.shape[1]):
            finite = source[:, column][np.isfinite(source[:, column])]
            if finite.size and np.all(finite == np.round(finite)):
                shares[split, column] = _largest_remainder(
                    shares[split, column], origin[split], source[split, column])
    # every target sums its shares; one reached by a missing value is missing
    target, codes = pd.factorize(rows["to_code"], sort=True)
    reaching = scipy.sparse.csr_matrix(
        (np.ones(len(target)), (target, np.arange(len(target)))),
        shape=(len(codes), len(target)))
    missing = np.isnan(shares)
    sums = reaching @ np.where(missing, 0.0, shares)
    sums[(reaching @ missing.astype("float64")) > 0] = np.nan
    result = pd.DataFrame(sums, index=pd.Index(codes.to_numpy(dtype=object)),
                          columns=table.columns)
    approximated = sorted(set(rows.loc[rows["kind"] == "split", "to_code"]))
    return Conversion(result["value"] if is_series else result, unmatched, approximated)


def _largest_remainder(shares: np.ndarray, groups: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Round ``shares`` to integers so that each group still sums to its total.

    In each group (integer codes), the shares with the largest remainders are rounded
    up, the first listed winning a tie, until the group's total is reached.
    """
    floors = np.floor(shares)
    kept = np.flatnonzero(np.isfinite(totals))
    result = shares.copy()
    if not kept.size:
        return result
    group, floor, rest = groups[kept], floors[kept], (shares - floors)[kept]
    lacking = np.round(totals[kept] - np.bincount(group, floor)[group])
    order = np.lexsort((np.arange(len(kept)), -rest, group))
    first = np.searchsorted(group[order], group[order], "left")
    rank = np.empty(len(kept), dtype="int64")
    rank[order] = np.arange(len(kept)) - first
    result[kept] = floor + (rank < lacking)
    return result


def chain(steps: dict[tuple[int, int], pd.DataFrame], from_vintage: int,
          to_vintage: int) -> pd.DataFrame:
    """Passage table between any two vintages, composed from adjacent steps.

    Parameters
    ----------
    steps : dict
        ``(a, b) → passage table`` for adjacent vintages, in both directions.
    from_vintage, to_vintage : int
        The two vintages (equal vintages give the identity table).
    """
    vintages = sorted({a for a, _ in steps} | {b for _, b in steps})
    if from_vintage == to_vintage:
        codes = next(iter(steps.values()))  # any table lists the codes of its vintages
        own = codes.loc[codes["from_vintage"] == from_vintage, "from_code"].unique()
        if own.size == 0:
            own = codes.loc[codes["to_vintage"] == from_vintage, "to_code"].unique()
        return pd.DataFrame({"from_vintage": from_vintage, "from_code": own,
                             "to_vintage": to_vintage, "to_code": own, "weight": 1.0,
                             "kind": "same"})
    direction = 1 if to_vintage > from_vintage else -1
    start, end = vintages.index(from_vintage), vintages.index(to_vintage)
    path = vintages[start:end + direction:direction] if direction == 1 else \
        vintages[end:start + 1][::-1]
    tables = [steps[pair] for pair in itertools.pairwise(path)]
    return tables[0] if len(tables) == 1 else _composed(tables)
