"""Geography vintages (millésimes du Code officiel géographique) and their sources.

Each vintage is read from one version of the npm package
``@etalab/decoupage-administratif``, installed under an alias ``cog-YYYY`` (see the
project's ``package.json``). The mapping below is the one the package's README gives.
"""

from __future__ import annotations

from pathlib import Path

from cohesion.errors import CohesionError

#: COG vintage → version of ``@etalab/decoupage-administratif`` holding it.
DECOUPAGE_VERSIONS: dict[int, str] = {
    2021: "1.1.1",
    2022: "2.3.1",
    2023: "3.1.1",
    2024: "4.1.0",
    2025: "5.3.0",
    2026: "6.0.0",
}
VINTAGES: tuple[int, ...] = tuple(sorted(DECOUPAGE_VERSIONS))
LATEST_VINTAGE = VINTAGES[-1]


def check_vintage(vintage: int) -> int:
    """Return ``vintage`` if it is supported, else raise a helpful error."""
    if vintage not in DECOUPAGE_VERSIONS:
        raise CohesionError(
            f"le millésime de géographie {vintage!r} n'est pas pris en charge "
            f"(attendu l'un de {', '.join(map(str, VINTAGES))})"
        )
    return vintage


def package_dir(node_modules: Path, vintage: int) -> Path:
    """Folder of the ``cog-YYYY`` package for ``vintage`` (checked to exist)."""
    folder = node_modules / f"cog-{check_vintage(vintage)}" / "data"
    if not (folder / "communes.json").is_file():
        raise CohesionError(
            f"le paquet du référentiel pour {vintage} n'est pas installé : {folder} n'a pas de "
            "communes.json (lancez `npm ci` dans le dossier du projet, ou définissez "
            "COHESION_NODE_MODULES)"
        )
    return folder
