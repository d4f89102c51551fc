"""The ``cohesion`` command group: its options, its error handling, the warehouse it opens.

Every command works on one warehouse file (``--warehouse``, or the settings'
``COHESION_WAREHOUSE``, default ``var/cohesion.duckdb``) and answers errors with a
one-line French message and the exit code of :mod:`cohesion.cli.errors`, never a
traceback. The commands live in the modules of this package, one per group; they parse
options, call the core (:class:`cohesion.core.Observatory`, the importers) and print.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cohesion.cli.errors import EXIT_INTERNAL, exit_code
from cohesion.cli.output import errors
from cohesion.errors import CohesionError
from cohesion.settings import Settings

if TYPE_CHECKING:
    from cohesion.core import Observatory
    from cohesion.store.warehouse import Warehouse


class CohesionGroup(click.Group):
    """Turn errors into a one-line message and an exit code, never a traceback.

    Set ``COHESION_DEBUG=1`` to see the traceback of an unexpected error.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CohesionError as error:
            errors.print(f"[bold red]Erreur :[/] {error}", highlight=False, soft_wrap=True)
            ctx.exit(exit_code(error))
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:
            if settings_of(ctx).debug:
                raise
            errors.print(f"[bold red]Erreur interne :[/] {type(error).__name__}: {error} "
                         "(relancer avec COHESION_DEBUG=1 pour le détail)",
                         highlight=False, soft_wrap=True)
            ctx.exit(EXIT_INTERNAL)


class LazyGroup(click.Group):
    """A command group whose subcommands are imported when they are used.

    ``cohesion --help`` and ``import cohesion.cli`` then stay clear of the libraries
    those subcommands need (shapely, pyproj, pandas…).

    Parameters
    ----------
    lazy_commands : dict of str to str
        Name of each subcommand → ``"module:attribute"`` of its click command.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_commands:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = self.lazy_commands[cmd_name].partition(":")
        command: click.Command = getattr(import_module(module), attribute)
        return command


@click.group(cls=CohesionGroup)
@click.option("--warehouse", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Fichier de l'entrepôt DuckDB (défaut : "
              "$COHESION_WAREHOUSE ou var/cohesion.duckdb).")
@click.version_option(package_name="cohesion")
@click.pass_context
def main(ctx: click.Context, warehouse: Path | None) -> None:
    """Cohésion : référentiel territorial, entrepôt d'indicateurs et données officielles."""
    settings = Settings.from_environ()
    ctx.obj = settings.but(warehouse=warehouse) if warehouse else settings


def settings_of(ctx: click.Context) -> Settings:
    """The settings of this invocation."""
    found = ctx.find_root().obj
    return found if isinstance(found, Settings) else Settings.from_environ()


def require_warehouse(settings: Settings) -> Path:
    """The warehouse file, or a clear error when it has not been built."""
    if not settings.warehouse.exists():
        raise CohesionError(f"aucun entrepôt en {settings.warehouse} : lancez d'abord "
                            "`cohesion build`")
    return settings.warehouse


@contextmanager
def opened(ctx: click.Context, read_only: bool = False) -> Iterator[Warehouse]:
    """Open the warehouse of this invocation.

    Read-only commands share the file with a running ``cohesion serve``; a command that
    writes asks the server to let go of the file for its duration (see
    :func:`cohesion.store.sharing.writing`).
    """
    from cohesion.store.sharing import writing
    from cohesion.store.warehouse import Warehouse

    settings = settings_of(ctx)
    if read_only:
        with Warehouse(require_warehouse(settings), read_only=True) as warehouse:
            yield warehouse
        return
    with writing(settings.warehouse), Warehouse(settings.warehouse) as warehouse:
        yield warehouse


@contextmanager
def observatory(ctx: click.Context) -> Iterator[Observatory]:
    """The core over this invocation's warehouse, read-only."""
    from cohesion.core import Observatory

    found = Observatory(require_warehouse(settings_of(ctx)), settings=settings_of(ctx))
    try:
        yield found
    finally:
        found.close()
