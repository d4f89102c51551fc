"""Errors raised by the analysis functions.

Every error derives from :class:`AnalysisError`, itself a
:class:`~cohesion.errors.CohesionError` (and so a :class:`ValueError`).
"""

from __future__ import annotations

from cohesion.errors import CohesionError


class AnalysisError(CohesionError):
    """Base class of the errors of :mod:`cohesion.analysis`."""


class AnalysisInputError(AnalysisError):
    """Arguments that do not fit together or fall outside what a method accepts.

    For example arrays of different lengths, a negative weight, an unknown option, or a
    territory with a value but no group in a partition.
    """


class NotEnoughDataError(AnalysisError):
    """Too few usable territories for the method (say, fewer territories than classes)."""
