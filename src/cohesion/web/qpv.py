"""QPV geo-referencing over HTTP: the API endpoints and the ``/qpv`` page."""

from __future__ import annotations

from fastapi import FastAPI

from cohesion.web.observatory import Observatory


def install(app: FastAPI, observatory: Observatory) -> None:
    """Add the QPV geo-referencing endpoints and page to ``app``."""
