"""The baromètre de la cohésion des territoires over HTTP: endpoints and pages."""

from __future__ import annotations

from fastapi import FastAPI

from cohesion.web.observatory import Observatory


def install(app: FastAPI, observatory: Observatory) -> None:
    """Add the baromètre endpoints and the ``/barometre`` pages to ``app``."""
