"""Inequality, convergence, spatial autocorrelation and typologies over HTTP.

:func:`install` adds to the application

- the endpoints ``GET /api/analysis/inequality``, ``/convergence``, ``/lisa`` and
  ``/typology`` (in the OpenAPI document), from :mod:`~cohesion.web.analysis.api`;
- the pages ``/analyse`` (inequality and Lorenz curve), ``/analyse/lisa`` (LISA cluster
  map) and ``/analyse/typologie`` (class map, profiles, paragons, stability), from
  :mod:`~cohesion.web.analysis.pages`.

Both answer from one :class:`~cohesion.core.analyses.Analyses`, the edge where
the warehouse meets the pure functions of :mod:`cohesion.analysis`: it checks the
request, computes and caches. Every message meant for a user is in French; a request
the data cannot answer raises :class:`~cohesion.core.analyses.AnalysisRequestError`
(400) or an unknown-indicator/territory error (404).
"""

from __future__ import annotations

from fastapi import FastAPI

from cohesion.core import Observatory
from cohesion.web.analysis.api import install_api
from cohesion.web.analysis.pages import install_pages

__all__ = ["install"]


def install(app: FastAPI, observatory: Observatory) -> None:
    """Add the analysis endpoints and the ``/analyse`` pages to ``app``.

    Parameters
    ----------
    app : FastAPI
        The application of :func:`cohesion.web.app.create_app`; the endpoints appear in
        its OpenAPI document, the pages do not.
    observatory : Observatory
    """
    analyses = observatory.analyses
    app.state.analyses = analyses
    install_api(app, analyses)
    install_pages(app, analyses)
