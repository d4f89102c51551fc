"""One harvest of one source: the function the command line, the web and Python call.

:func:`harvest` loads the connector (a shipped source's name, a YAML file or a
:class:`~cohesion.innovations.connectors.base.Connector`), fetches its documents
politely under a data root (a folder such as ``../shared/data``, or a base address),
maps the entries to records, normalises their places when given a
:class:`~cohesion.innovations.normalise.Normaliser`, and returns a :class:`HarvestRun`:
the :class:`~cohesion.innovations.records.Harvest` that the store upserts, with the
notes of the run report.

A source that cannot be read as declared (unreachable, forbidden by its robots.txt, a
missing column, selectors that match nothing, a broken connector file) does not raise:
the run has an ``error`` and no record, so that the store keeps what it holds and the
report says why. The store raises the run's health alert when it applies it
(:func:`cohesion.innovations.store.health_alert`).

Examples
--------
>>> run = harvest("transiscope", "../shared/data")                 # doctest: +SKIP
>>> len(run.records), run.summary()["echecs"]                      # doctest: +SKIP
(699, {'titre absent': 1})
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cohesion.errors import CohesionError
from cohesion.innovations.connectors.base import Connector, load_connector
from cohesion.innovations.fetching import Fetcher, Progress
from cohesion.innovations.normalise import Normaliser
from cohesion.innovations.records import Harvest


@dataclass
class HarvestRun(Harvest):
    """A :class:`~cohesion.innovations.records.Harvest` and what its report tells.

    Attributes
    ----------
    version : int
        Version of the connector that read the source.
    notes : list of str
        In French: values left out, entries merged, communes and QPV found…
    unmapped : Counter
        Tags the taxonomy does not map, with their number of records (kept in the
        records' tags).
    """

    version: int = 0
    notes: list[str] = field(default_factory=list)
    unmapped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        """The counts of the run report.

        Returns
        -------
        dict
            ``fiches``, ``echecs`` (refused entries by reason: the reason's text before
            its details), ``etiquettes_non_rapprochees`` (distinct tags, and the
            records carrying one), ``avec_commune``, ``avec_departement``,
            ``avec_point``, ``dans_un_qpv``, ``erreur``.
        """
        failures = Counter(f.reason.split(" : ")[0] for f in self.failures)
        return {
            "source": self.source, "version": self.version, "fiches": len(self.records),
            "echecs": dict(failures.most_common()),
            "etiquettes_non_rapprochees": {
                "distinctes": len(self.unmapped),
                "fiches": sum(1 for r in self.records
                              if any(t in self.unmapped for t in r.tags))},
            "avec_commune": sum(r.commune is not None for r in self.records),
            "avec_departement": sum(r.departement is not None for r in self.records),
            "avec_point": sum(r.lat is not None for r in self.records),
            "dans_un_qpv": sum(r.qpv is not None for r in self.records),
            "erreur": self.error}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def harvest(connector: Connector | str | Path, root: str | Path,
            normaliser: Normaliser | None = None, progress: Progress | None = None, *,
            fetcher: Fetcher | None = None) -> HarvestRun:
    """Harvest one source.

    Parameters
    ----------
    connector : Connector, str or Path
        The connector, a shipped source's name (``transiscope``) or a YAML file.
    root : str or Path
        The data root its locations are relative to: a folder, or a base address
        (``https://…/``, ``file:///…``).
    normaliser : Normaliser, optional
        Fills commune, département and QPV; without it, records keep what the source
        gives.
    progress : callable, optional
        ``progress(step, done, total)`` as the run goes (``lecture``, ``fiches``,
        ``normalisation``), for a progress bar.
    fetcher : Fetcher, optional
        How documents are fetched (default: a polite :class:`Fetcher`, closed at the
        end). Give one to share a rate limit across runs, or to change its limits.

    Returns
    -------
    HarvestRun
        Records with their ids, refused entries with their place and reason, the
        addresses read; ``error`` set (and no record) when the run failed.
    """
    name = connector.name if isinstance(connector, Connector) else Path(str(connector)).stem
    run = HarvestRun(source=name, started=_now())
    own = fetcher is None
    active = fetcher or Fetcher()
    fetched: list[str] = []
    try:
        loaded = connector if isinstance(connector, Connector) else load_connector(connector)
        run.source, run.version = loaded.name, loaded.spec.version
        reading = loaded.read(root, active, progress, fetched)
        if normaliser is not None:
            if progress is not None:
                progress("normalisation", 0, len(reading.records))
            reading.notes += normaliser.normalise(reading.records, loaded.spec.point)
            if progress is not None:
                progress("normalisation", len(reading.records), len(reading.records))
        run.records, run.failures = reading.records, reading.failures
        run.notes, run.unmapped = reading.notes, reading.unmapped
    except CohesionError as error:
        run.error = str(error)
    finally:
        if own:
            active.close()
    run.fetched = fetched
    run.finished = _now()
    return run
