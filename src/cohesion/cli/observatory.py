"""``cohesion indicators``, ``export`` and ``serve``."""

from __future__ import annotations

from pathlib import Path

import click

from cohesion.cli.main import main, observatory, require_warehouse, settings_of
from cohesion.cli.output import console, print_frame, print_notes, steps_progress

#: Seconds the server keeps an idle connection open (uvicorn: 5 by default). Longer than
#: clients keep theirs (httpx 5 s, browsers and proxies up to 60 s): a connection the
#: server closes as a client sends on it fails that request (seen under load with the
#: 5 s of both sides). nginx's default.
KEEP_ALIVE_S = 75


@main.command()
@click.option("--all", "show_all", is_flag=True,
              help="Inclure les variables importées sans définition.")
@click.pass_context
def indicators(ctx: click.Context, show_all: bool) -> None:
    """Lister les indicateurs, leur définition et les périodes disponibles."""
    with observatory(ctx) as core:
        catalogue = core.catalogue(builtin_only=not show_all)
    catalogue["periods"] = catalogue["periods"].map(lambda p: ", ".join(p) or "non chargé")
    print_frame(catalogue[["id", "label", "unit", "kind", "periods"]], limit=1000)


@main.command()
@click.argument("indicator_ids", nargs=-1, required=True)
@click.option("--level", default="DEP", show_default=True, help="Échelon : COM, EPCI, DEP…")
@click.option("--vintage", type=int, help="Millésime du COG (défaut : le plus récent).")
@click.option("--period", help="Période (défaut : la plus récente disponible).")
@click.option("--within", help="Seulement dans ce territoire (ex. DEP:93@2026).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier de sortie (.csv, .parquet ou .geojson).")
@click.option("--format", "file_format", type=click.Choice(["csv", "parquet", "geojson"]))
@click.pass_context
def export(ctx: click.Context, indicator_ids: tuple[str, ...], level: str,
           vintage: int | None, period: str | None, within: str | None,
           output: Path | None, file_format: str | None) -> None:
    """Afficher ou exporter des indicateurs pour tous les territoires d'un échelon.

    Les colonnes sont celles de l'API (/api/values?format=csv) : code, nom, puis pour
    chaque indicateur sa valeur, la raison d'une valeur manquante, la couverture, la
    période et la source ; enfin le millésime.
    """
    from cohesion.core.exports import write_table

    with observatory(ctx) as core:
        table = core.selection_table(list(indicator_ids), level.upper(), vintage, period,
                                     within)
        if output:
            shapes = core.contours(level.upper(), table.attrs["vintage"]) \
                if (file_format or output.suffix.lstrip(".")).lower() == "geojson" else None
            rows = write_table(table, output, file_format, shapes)
            console.print(f"{rows} territoires écrits dans {output}")
            return
    print_frame(table[["code", "nom", *indicator_ids]],
                f"{', '.join(indicator_ids)} — {level} — COG {table.attrs['vintage']}")
    for ident, source in table.attrs["sources"].items():
        console.print(f"{ident} ({source['period']}) : {source['source']}")
        print_notes(source["notes"])


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Adresse d'écoute (127.0.0.1 : cette machine seulement).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--admin-token", help="Jeton autorisant les imports par le web "
              "(défaut : $COHESION_ADMIN_TOKEN).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, admin_token: str | None) -> None:
    """Servir l'application web et l'API (http://127.0.0.1:8000 par défaut).

    Le serveur lit l'entrepôt sans le bloquer : les autres commandes le lisent en même
    temps, et une commande qui écrit (import, build) lui demande de s'en retirer le
    temps de l'écriture. Il s'arrête sur Ctrl-C comme sur SIGTERM.
    """
    import uvicorn

    from cohesion.core import Observatory
    from cohesion.shutdown import interrupted_by_signals
    from cohesion.store.sharing import ServerFile
    from cohesion.web.app import create_app

    settings = settings_of(ctx)
    if admin_token:
        settings = settings.but(admin_token=admin_token)
    core = Observatory(require_warehouse(settings), settings=settings)
    with steps_progress("Préparation des indicateurs") as step:
        step("calcul des chiffres clés à tous les échelons")
        app = create_app(core, settings)
    console.print(f"Cohésion : http://{host}:{port}/ (API : http://{host}:{port}/api/docs)")
    # uvicorn stops on SIGTERM and SIGINT, then sends the signal again to the handler it
    # found: ours, so that the process ends here, announcement withdrawn and core closed
    with interrupted_by_signals(service=True), ServerFile.announce(
            settings.warehouse, host, port, app.state.control_token):
        try:
            uvicorn.run(app, host=host, port=port, log_level="warning",
                        server_header=False, timeout_keep_alive=KEEP_ALIVE_S)
        finally:
            core.close()
