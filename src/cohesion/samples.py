"""The real data samples that ``make run`` imports from ``../shared/data``.

Each entry names the catalogue-like dataset, the importer, the file relative to the
samples folder and the options the file needs. The same files feed the integration
tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One sample file to import."""

    name: str
    importer: str
    path: str
    vintage: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


SAMPLES: tuple[Sample, ...] = (
    Sample("comparateur-2021", "comparateur",
           "commune_indicators/comparateur_rp2018_filo2019/base_cc_comparateur.CSV"),
    Sample("filosofi-communes-2019", "filosofi-communes",
           "commune_indicators/filosofi2019_com/cc_filosofi_2019_COM.CSV"),
    Sample("filosofi-communes-2020", "filosofi-communes",
           "commune_indicators/filosofi2020_com/cc_filosofi_2020_COM.csv"),
)
