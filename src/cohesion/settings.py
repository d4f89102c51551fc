"""Every setting of Cohésion, read from the environment in one place.

:class:`Settings` is built once by an interface (the command line, the web application,
a test) with :meth:`Settings.from_environ` and passed down: no other module reads the
environment. The variables:

``COHESION_WAREHOUSE``
    Path of the DuckDB warehouse file (default ``var/cohesion.duckdb``).
``COHESION_NODE_MODULES``
    Folder holding the ``cog-YYYY`` npm packages and the front-end assets (default: the
    project's ``node_modules``, found by walking up from the current directory or from
    this package).
``COHESION_ADMIN_TOKEN``
    Token that authorises imports through the web (none: web imports are refused).
``COHESION_GEOCODER``
    addok service used for addresses (a local addok, or the BAN). When unset: the local
    addok of ``COHESION_ADDOK_DIR`` when it has an index, else the BAN.
``COHESION_ADDOK_DIR``
    Folder of the local addok (default ``var/addok``); its HTTP port is
    ``COHESION_ADDOK_PORT`` (default 7878).
``COHESION_COMMUNES_QPV``
    ANCT's national lists of the communes that have a QPV
    (``polygone-4326_qpv.geojson``), separated by ``:``: a point of a commune the list
    does not name is « hors QPV » (it has none), a point of a listed commune whose QPV
    contours are not loaded is « non couvert ».
``COHESION_MIRROR``
    A mirror of the official download addresses (``cohesion data fetch``).
``COHESION_CARREFOUR``
    Relational store of the Carrefour des innovations sociales (records, accounts,
    contributions, moderation, audit), as an SQLAlchemy address: SQLite by default
    (``sqlite:///var/carrefour.sqlite``), ``postgresql+psycopg://…`` in server mode.
``COHESION_CARREFOUR_INDEX``
    Its search index: a folder (the embedded tantivy index, default
    ``var/carrefour-index``) or a ``postgresql…`` address (server mode).
``COHESION_SECURE_COOKIES``
    ``1`` marks session cookies ``Secure`` (behind HTTPS); off by default because the
    application serves plain HTTP on 127.0.0.1.
``COHESION_DEBUG``
    ``1`` shows the traceback of an unexpected error on the command line.

Examples
--------
>>> settings = Settings.from_environ({"COHESION_WAREHOUSE": "/tmp/w.duckdb",
...                                   "COHESION_ADDOK_DIR": "/nonexistent"})
>>> settings.warehouse
PosixPath('/tmp/w.duckdb')
>>> settings.geocoder_url()
'https://api-adresse.data.gouv.fr'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_WAREHOUSE = Path("var/cohesion.duckdb")
DEFAULT_ADDOK_DIR = Path("var/addok")
DEFAULT_ADDOK_PORT = 7878
DEFAULT_CARREFOUR = "sqlite:///var/carrefour.sqlite"
DEFAULT_CARREFOUR_INDEX = "var/carrefour-index"
#: The national address service (Base Adresse Nationale), an addok server.
BAN_URL = "https://api-adresse.data.gouv.fr"


@dataclass(frozen=True)
class Settings:
    """Where Cohésion keeps its data and which services it uses.

    Attributes
    ----------
    warehouse : Path
        The DuckDB warehouse file.
    node_modules : Path or None
        Folder of the npm packages; None finds the project's own.
    admin_token : str or None
        Token of web imports; None refuses them.
    geocoder : str or None
        addok service for addresses; None uses :meth:`geocoder_url`'s default.
    addok_dir : Path
        Folder of the local addok (its index is ``addok.rdb`` there).
    addok_port : int
        Port of the local addok's HTTP server.
    communes_qpv : tuple of Path
        ANCT's lists of the communes that have a QPV.
    mirror : str or None
        Mirror of the official download addresses.
    networks : Path or None
        Folder of OpenStreetMap files (``.osm.pbf``, ``.osm``) the web page « Accès aux
        services » may compute on; None: crow-fly computations only.
    carrefour : str
        SQLAlchemy address of the Carrefour's relational store.
    carrefour_index : str
        Folder of the embedded search index, or a PostgreSQL address.
    secure_cookies : bool
        Session cookies only over HTTPS.
    debug : bool
        Show tracebacks of unexpected errors.
    """

    warehouse: Path = DEFAULT_WAREHOUSE
    node_modules: Path | None = None
    admin_token: str | None = None
    geocoder: str | None = None
    addok_dir: Path = DEFAULT_ADDOK_DIR
    addok_port: int = DEFAULT_ADDOK_PORT
    communes_qpv: tuple[Path, ...] = field(default_factory=tuple)
    mirror: str | None = None
    networks: Path | None = None
    carrefour: str = DEFAULT_CARREFOUR
    carrefour_index: str = DEFAULT_CARREFOUR_INDEX
    secure_cookies: bool = False
    debug: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of the ``COHESION_*`` variables of ``environ`` (``os.environ``)."""
        env = os.environ if environ is None else environ
        port = env.get("COHESION_ADDOK_PORT", "")
        return cls(
            warehouse=Path(env.get("COHESION_WAREHOUSE") or DEFAULT_WAREHOUSE),
            node_modules=Path(env["COHESION_NODE_MODULES"])
            if env.get("COHESION_NODE_MODULES") else None,
            admin_token=env.get("COHESION_ADMIN_TOKEN") or None,
            geocoder=env.get("COHESION_GEOCODER") or None,
            addok_dir=Path(env.get("COHESION_ADDOK_DIR") or DEFAULT_ADDOK_DIR),
            addok_port=int(port) if port.isdigit() else DEFAULT_ADDOK_PORT,
            communes_qpv=tuple(Path(p) for p in
                               env.get("COHESION_COMMUNES_QPV", "").split(os.pathsep) if p),
            mirror=env.get("COHESION_MIRROR") or None,
            networks=Path(env["COHESION_NETWORKS"]) if env.get("COHESION_NETWORKS") else None,
            carrefour=env.get("COHESION_CARREFOUR") or DEFAULT_CARREFOUR,
            carrefour_index=env.get("COHESION_CARREFOUR_INDEX") or DEFAULT_CARREFOUR_INDEX,
            secure_cookies=env.get("COHESION_SECURE_COOKIES", "") not in ("", "0"),
            debug=env.get("COHESION_DEBUG", "") not in ("", "0"))

    def but(self, **changes: object) -> Settings:
        """The same settings with some changed (``settings.but(warehouse=path)``)."""
        return replace(self, **changes)

    def npm_folder(self) -> Path:
        """The folder that holds the ``cog-YYYY`` packages and the front-end assets."""
        if self.node_modules is not None:
            return self.node_modules
        for start in (Path.cwd(), Path(__file__).resolve()):
            for folder in (start, *start.parents):
                candidate = folder / "node_modules"
                if (candidate / "cog-2026").is_dir():
                    return candidate
        return Path.cwd() / "node_modules"

    def geocoder_url(self) -> str:
        """The addok service for addresses, the same for the CLI and the web.

        The one configured, else the local addok when it has an index, else the BAN.
        """
        if self.geocoder:
            return self.geocoder
        if (self.addok_dir / "addok.rdb").exists():
            return f"http://127.0.0.1:{self.addok_port}"
        return BAN_URL
