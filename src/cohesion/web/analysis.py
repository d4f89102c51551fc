"""Inequality, spatial autocorrelation and typologies over HTTP: endpoints and pages."""

from __future__ import annotations

from fastapi import FastAPI

from cohesion.web.observatory import Observatory


def install(app: FastAPI, observatory: Observatory) -> None:
    """Add the analysis endpoints and the ``/analyse`` pages to ``app``."""
