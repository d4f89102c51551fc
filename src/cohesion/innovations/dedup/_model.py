"""The linkage model: blocking rules, comparisons and their parameters, run by splink.

A Fellegi-Sunter model scores each pair of records that a blocking rule brings together:
every comparison (title, description, porteur, identifier, web site, place) puts the pair
in one of its levels, each level weighs ``m / u`` (how much more often that level occurs
between two records of one entity than between two unrelated records), and the product of
these weights with the prior odds gives the match probability. Splink (v5, on an
in-memory DuckDB database) blocks, compares and scores.

Parameters
----------
``u`` is estimated on every run by random sampling of record pairs (a fixed seed: the same
records give the same model); the values below are only its fallback for a level the
sample never meets (they were measured on the three sample sources). ``m`` is declared:
expectation maximisation on blocked pairs, tried on the three sample sources, converged to
classes that were not duplicates (the projects of a commune, the structures of a
département), so the m values are set from what the sources are known to do and checked
on the labelled set (``docs/innovations-dedup.md``). Two levels have a declared ``u``
too: the porteur, because a project's porteur follows from its place (a commune carries
the projects located in it) and counting it at its random-pair frequency would count the
place twice; and a description template shared by several records, which says nothing
either way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from cohesion.innovations.dedup._features import linkage_frame
from cohesion.innovations.records import Record

if TYPE_CHECKING:
    from splink import SettingsCreator

#: Expected number of other records of the same entity per record: sets the prior
#: probability that two records drawn at random are one entity (``this / (n - 1)``).
DUPLICATES_PER_RECORD = 0.15

#: Record pairs drawn to estimate ``u`` (the more, the steadier and the slower).
U_PAIRS = 300_000

#: Seed of that draw.
SEED = 2025

#: Fewer possible pairs than this (about 450 records) say too little about unrelated
#: records: ``u`` then keeps the values of :data:`LEVELS`, measured on the samples.
MIN_SAMPLE_PAIRS = 100_000

#: Weight (summed rarity of its words) a title needs for « one title contains the other »
#: to count: two or three uncommon words, not « Éclairage public ».
DISTINCTIVE_WEIGHT = 12


@dataclass(frozen=True)
class Level:
    """One level of a comparison.

    Attributes
    ----------
    name : str
        Its French label, as a review page shows it.
    m : float
        Probability of the level between two records of one entity (declared).
    u : float
        Probability between two unrelated records: the fallback of the random-sampling
        estimate, or the declared value when ``fixed_u``.
    fixed_u : bool
        Keep ``u`` as declared instead of estimating it.
    """

    name: str
    m: float
    u: float
    fixed_u: bool = False


#: Comparisons, their levels from the closest to the farthest (the not-comparable level
#: comes first and has no parameters). Splink numbers a comparison's levels from
#: ``len(levels) - 1`` (closest) down to 0, -1 meaning not comparable.
LEVELS: dict[str, tuple[Level, ...]] = {
    "title": (
        Level("titre identique", 0.55, 1.2e-4),
        Level("titre presque identique", 0.15, 1.8e-5),
        Level("un titre contient l'autre", 0.07, 2.9e-5),
        Level("titre semblable", 0.10, 1.4e-4),
        Level("titre voisin", 0.06, 1e-3),
        Level("titres différents", 0.07, 0.999),
    ),
    "description": (
        Level("même texte type", 0.02, 0.02, fixed_u=True),
        Level("descriptions semblables", 0.45, 1.1e-5),
        Level("descriptions voisines", 0.15, 1.9e-4),
        Level("descriptions différentes", 0.38, 0.9998),
    ),
    "porteur": (
        Level("même porteur", 0.96, 0.50, fixed_u=True),
        Level("porteurs semblables", 0.03, 0.02, fixed_u=True),
        Level("porteurs différents", 0.01, 0.48, fixed_u=True),
    ),
    "identifier": (
        Level("même SIRET", 0.60, 1e-5),
        Level("même SIREN", 0.35, 2.2e-4),
        Level("SIREN différents", 0.05, 0.9999),
    ),
    "web": (
        Level("même adresse web", 0.60, 1e-3),
        Level("même site web", 0.25, 3e-3),
        Level("sites web différents", 0.15, 0.996),
    ),
    "place": (
        Level("même commune ou à moins de 500 m", 0.56, 4.7e-5),
        Level("à moins de 10 km", 0.02, 5e-4),
        Level("même département (lieu précis inconnu)", 0.38, 3.2e-3),
        Level("même département, à plus de 10 km", 0.02, 8.8e-3),
        Level("départements différents", 0.02, 0.988),
    ),
}

#: Blocking rules: only pairs sharing one of these keys are compared. Their French names,
#: in splink's order (the ``rule`` column of :func:`candidate_pairs`).
BLOCKING_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("même SIREN", ("siren",)),
    ("même commune", ("commune",)),
    ("même porteur dans le département", ("porteur_key", "departement")),
    ("même titre peu courant", ("title_unusual",)),
    ("titre qui commence pareil dans le département", ("title_prefix", "departement")),
    ("un mot rare du titre en commun", ("title_rare",)),
    ("même site web", ("host",)),
    ("même point", ("cell",)),
)

#: Columns of :func:`candidate_pairs`, besides one level column per comparison.
PAIR_COLUMNS = ("record_a", "record_b", "probability", "weight", "rule")


def _shared_weight(column: str) -> str:
    """SQL of the weight of the words two records share in ``column``.

    A word's weight is its rarity (``_features._idf``), the same on both sides.
    """
    return (f"coalesce(list_sum(list_transform(list_intersect({column}_tokens_l, "
            f"{column}_tokens_r), lambda t: list_extract({column}_weights_l, "
            f"list_position({column}_tokens_l, t)))), 0)")


def _words_level(column: str, threshold: float, *, containment: bool = False) -> Any:
    """Level: the words of ``column`` agree at least ``threshold``.

    By default the weighted Jaccard similarity (shared weight over the weight of all the
    words of both records); with ``containment``, the shared weight over the weight of
    the shorter side (``Centre social Le Pertuis`` is in ``Centre social du Mireuil - Le
    Pertuis``).
    """
    import splink.comparison_level_library as cll

    shared = _shared_weight(column)
    whole = (f"least({column}_weight_l, {column}_weight_r)" if containment else
             f"({column}_weight_l + {column}_weight_r - {shared})")
    # a contained title must say something by itself: « Éclairage public » is contained
    # in many titles
    distinctive = f"{whole} >= {DISTINCTIVE_WEIGHT} AND " if containment else ""
    # naming the weights outside the lambda lets splink see that the level reads them;
    # most pairs share no word, and the test of a shared word spares them the sums
    return cll.CustomLevel(f"{column}_weights_l IS NOT NULL AND {distinctive}"
                           f"list_has_any({column}_tokens_l, {column}_tokens_r) AND "
                           f"{shared} / {whole} >= {threshold}")


def _near_titles() -> Any:
    """Level: titles differing by a typo (a few letters), with the same numbers and points.

    Numbers and cardinal points tell apart names that a letter or two separate
    (``Espoir 18`` and ``Espoirs 19``, ``tranche 1`` and ``tranche 2``, ``Territoire Est``
    and ``Territoire Ouest``).
    """
    import splink.comparison_level_library as cll

    typo = cll.CustomLevel(
        "least(length(title_key_l), length(title_key_r)) >= 8 AND "
        "levenshtein(title_key_l, title_key_r) <= "
        "greatest(2, least(length(title_key_l), length(title_key_r)) // 10)")
    markers = r"'[0-9]+|\b(nord|sud|est|ouest)\b'"
    same_markers = cll.CustomLevel(f"regexp_extract_all(title_key_l, {markers}) = "
                                   f"regexp_extract_all(title_key_r, {markers})")
    return cll.And(cll.Or(_words_level("title", 0.8), typo), same_markers)


def _comparisons() -> list[Any]:
    """The six comparisons, with their levels' parameters."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    dept_only = cll.And(
        cll.ExactMatchLevel("departement"),
        cll.Or(cll.NullLevel("lat"), cll.NullLevel("lon")), cll.NullLevel("commune"))
    conditions = {
        "title": (cll.NullLevel("title_key"),
                  cll.ExactMatchLevel("title_key").configure(tf_adjustment_column="title_key"),
                  _near_titles(), _words_level("title", 0.9, containment=True),
                  _words_level("title", 0.55), _words_level("title", 0.3), cll.ElseLevel()),
        "description": (cll.NullLevel("description_tokens"),
                        cll.ExactMatchLevel("description_template"),
                        _words_level("description", 0.6),
                        _words_level("description", 0.3), cll.ElseLevel()),
        "porteur": (cll.NullLevel("porteur_key"), cll.ExactMatchLevel("porteur_key"),
                    cll.JaroWinklerLevel("porteur_key", 0.92), cll.ElseLevel()),
        "identifier": (cll.NullLevel("siren"), cll.ExactMatchLevel("siret"),
                       cll.ExactMatchLevel("siren"), cll.ElseLevel()),
        "web": (cll.NullLevel("url"), cll.ExactMatchLevel("url"), cll.ExactMatchLevel("host"),
                cll.ElseLevel()),
        "place": (cll.And(cll.Or(cll.NullLevel("lat"), cll.NullLevel("lon")),
                          cll.NullLevel("commune"), cll.NullLevel("departement")
                          ).configure(is_null_level=True),
                  cll.Or(cll.ExactMatchLevel("commune"), cll.DistanceInKMLevel("lat", "lon", 0.5)),
                  cll.DistanceInKMLevel("lat", "lon", 10), dept_only,
                  cll.ExactMatchLevel("departement"), cll.ElseLevel()),
    }
    comparisons = []
    for name, (null, *levels) in conditions.items():
        configured = [null] + [
            condition.configure(m_probability=level.m, u_probability=level.u,
                                fix_u_probability=level.fixed_u, label_for_charts=level.name)
            for condition, level in zip(levels, LEVELS[name], strict=True)]
        comparisons.append(cl.CustomComparison(configured, output_column_name=name))
    return comparisons


def settings(record_count: int) -> SettingsCreator:
    """Splink settings of the model for ``record_count`` records."""
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only", comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=[
            block_on(*cols, arrays_to_explode=["title_rare"] if "title_rare" in cols else None)
            for _, cols in BLOCKING_RULES],
        probability_two_random_records_match=min(
            0.5, DUPLICATES_PER_RECORD / max(record_count - 1, 1)),
        retain_matching_columns=True, retain_intermediate_calculation_columns=True)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence splink's advice (training tips, chart hints) during a run."""
    logger = logging.getLogger("splink")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _arrow(frame: pd.DataFrame) -> Any:
    """``frame`` as an Arrow table with explicit types (a column may be all null)."""
    import pyarrow as pa

    text, number = pa.string(), pa.float64()
    words, weights = pa.list_(pa.string()), pa.list_(pa.float64())
    types = {"title_tokens": words, "title_weights": weights, "title_weight": number,
             "title_rare": words, "description_tokens": words,
             "description_weights": weights, "description_weight": number,
             "lat": number, "lon": number}
    schema = pa.schema([(name, types.get(name, text)) for name in frame.columns])
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({**{c: pd.Series(dtype=object) for c in PAIR_COLUMNS[:2]},
                         "probability": pd.Series(dtype=float),
                         "weight": pd.Series(dtype=float), "rule": pd.Series(dtype=object),
                         **{f"level_{c}": pd.Series(dtype=int) for c in LEVELS}})


def candidate_pairs(records: Sequence[Record] | pd.DataFrame, *,
                    min_probability: float = 0.01) -> pd.DataFrame:
    """Pairs of records that may be one entity, with their match probability.

    Parameters
    ----------
    records : sequence of Record or DataFrame
        The records to link: all sources together (a frame needs the ``id`` and
        ``title`` columns and may have the other fields of :class:`Record`).
    min_probability : float
        Pairs below this probability are left out (0 keeps every blocked pair).

    Returns
    -------
    DataFrame
        One row per pair, ``record_a < record_b``, sorted: ``probability`` (0 to 1),
        ``weight`` (log2 of the Bayes factor, prior included), ``rule`` (the first
        blocking rule that brought the pair, :data:`BLOCKING_RULES`) and
        ``level_<comparison>`` for each comparison of :data:`LEVELS` (-1: not comparable;
        :func:`explain` words them).

    Raises
    ------
    CohesionError
        When an id appears twice (:func:`~cohesion.innovations.dedup.linkage_frame`).

    Notes
    -----
    Deterministic: the same records (in any order) give the same pairs and probabilities.
    Nothing leaves the process (splink runs on an in-memory DuckDB database).
    """
    frame = linkage_frame(records)
    if len(frame) < 2:
        return _empty()
    from splink import DuckDBAPI, Linker

    frame = frame.sort_values("unique_id", kind="stable").reset_index(drop=True)
    table = _arrow(frame)
    database = DuckDBAPI()
    with _quiet():
        linker = Linker(database.register(table), settings(len(frame)), log_level=None)
        if len(frame) * (len(frame) - 1) // 2 >= MIN_SAMPLE_PAIRS:
            # one pass over the sample: its levels are counted whatever their frequency
            linker.training.estimate_u_using_random_sampling(
                max_pairs=U_PAIRS, seed=SEED, min_count_per_level=None, num_chunks=1)
        predicted = linker.inference.predict(threshold_match_probability=min_probability,
                                             warning_mode="never")
        # only the scores and levels: the compared columns would be copied for nothing
        scored = predicted.as_duckdbpyrelation().select(
            "unique_id_l", "unique_id_r", "match_probability", "match_weight", "match_key",
            *[f"gamma_{c}" for c in LEVELS]).df()
    if scored.empty:
        return _empty()
    names = [name for name, _ in BLOCKING_RULES]
    pairs = pd.DataFrame({
        "record_a": scored["unique_id_l"].astype(str),
        "record_b": scored["unique_id_r"].astype(str),
        "probability": scored["match_probability"].round(12),
        "weight": scored["match_weight"].round(9),
        "rule": [names[int(k)] for k in scored["match_key"]],
        **{f"level_{c}": scored[f"gamma_{c}"].astype(int) for c in LEVELS}})
    return pairs.sort_values(["record_a", "record_b"], kind="stable").reset_index(drop=True)


def explain(pair: pd.Series | dict[str, Any]) -> list[str]:
    """What the model saw in a pair, in French, one phrase per comparable comparison.

    Parameters
    ----------
    pair : Series or dict
        A row of :func:`candidate_pairs` (its ``level_<comparison>`` values).

    Examples
    --------
    >>> explain({"level_title": 5, "level_place": 4, "level_web": -1})
    ['titre identique', 'même commune ou à moins de 500 m']
    """
    phrases = []
    for name, levels in LEVELS.items():
        value = int(pair.get(f"level_{name}", -1))
        if value >= 0:
            phrases.append(levels[len(levels) - 1 - value].name)
    return phrases
