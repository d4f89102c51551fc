"""Precision and recall of the linkage on a labelled set of record pairs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cohesion.innovations.dedup._entities import Link, _decisions, _pair


@dataclass(frozen=True)
class Scores:
    r"""How linked records agree with labels.

    Attributes
    ----------
    precision : float
        Share of the labelled pairs found linked that are labelled ``same`` (1 when none
        is found linked).
    recall : float
        Share of the pairs labelled ``same`` found linked (1 when none is labelled so).
    f1 : float
        Harmonic mean of both (0 when both are 0).
    true_positives, false_positives, false_negatives : int
        Labelled ``same`` and linked, labelled ``different`` and linked, labelled
        ``same`` and not linked.

    Notes
    -----
    .. math::

        P = \frac{TP}{TP + FP}, \quad R = \frac{TP}{TP + FN}, \quad
        F_1 = \frac{2 P R}{P + R}
    """

    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int


def evaluate(predicted_matches: Iterable[Link | tuple[str, str]] | Mapping[str, str],
             labels: Mapping[tuple[str, str], str]) -> Scores:
    """Precision, recall and F1 of predicted links on labelled pairs.

    Parameters
    ----------
    predicted_matches : iterable of Link or (str, str), or mapping of str to str
        Pairs found to be one entity (pairwise evaluation), or the entity of each record
        (:func:`~cohesion.innovations.dedup.assign_entities`: two records are linked when
        they share an entity, links by transitivity included).
    labels : mapping of (str, str) to str
        ``same`` or ``different`` by pair of record ids (in either order). Pairs without
        a label do not count.

    Returns
    -------
    Scores

    Examples
    --------
    >>> labels = {("a", "b"): "same", ("a", "c"): "different", ("b", "d"): "same"}
    >>> scores = evaluate([("b", "a"), ("a", "c")], labels)
    >>> scores.precision, scores.recall, scores.false_positives
    (0.5, 0.5, 1)
    >>> evaluate({"a": "E1", "b": "E1", "c": "E2", "d": "E1"}, labels).recall
    1.0
    """
    checked = _decisions(labels, "étiquette")
    if isinstance(predicted_matches, Mapping):
        entity = predicted_matches

        def linked(pair: tuple[str, str]) -> bool:
            a, b = pair
            return a in entity and entity.get(a) == entity.get(b)
    else:
        found = {_pair(m.record_a, m.record_b) if isinstance(m, Link) else _pair(*m)
                 for m in predicted_matches}

        def linked(pair: tuple[str, str]) -> bool:
            return pair in found
    tp = sum(1 for pair, label in checked.items() if label == "same" and linked(pair))
    fp = sum(1 for pair, label in checked.items() if label == "different" and linked(pair))
    fn = sum(1 for pair, label in checked.items() if label == "same" and not linked(pair))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, tp, fp, fn)
