"""What every command prints with: the consoles, tables, figures and progress.

Results go to standard output (:data:`console`); progress and errors to standard error
(:data:`errors`), so that ``cohesion … > out.txt`` keeps only results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cohesion.spreadsheet import neutralise_formulas

if TYPE_CHECKING:
    import pandas as pd

console = Console()
errors = Console(stderr=True)


def cell(value: object) -> str:
    """A table cell: « — » for a missing value, French thousands for large numbers.

    Examples
    --------
    >>> cell(66732538.0), cell(12.3456), cell(None)
    ('66\u202f732\u202f538', '12.35', '—')
    """
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        text = f"{value:,.0f}" if value == int(value) and abs(value) >= 100 else f"{value:,.2f}"
        return text.replace(",", "\u202f")
    return str(value)


def figure(value: object) -> str:
    """A figure with four significant digits (Theil indices are often below 0.01).

    Examples
    --------
    >>> figure(0.0012345), figure(1234.5), figure(float("nan"))
    ('0.001234', '1\u202f234', '—')
    """
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    number = float(value)  # type: ignore[arg-type]
    if number.is_integer() or abs(number) >= 1000:
        return f"{number:,.0f}".replace(",", "\u202f")
    return f"{number:.4g}"


def number(value: float) -> str:
    """A count the French way: narrow no-break space between thousands.

    Examples
    --------
    >>> number(1234567)
    '1\u202f234\u202f567'
    """
    return f"{value:,.0f}".replace(",", "\u202f")


def rows(count: int) -> str:
    """A count of rows in French.

    Examples
    --------
    >>> rows(0), rows(1), rows(2000)
    ('0 ligne', '1 ligne', '2\u202f000 lignes')
    """
    return f"{number(count)} ligne{'s' if count > 1 else ''}"


def print_frame(frame: pd.DataFrame, title: str | None = None, limit: int = 50) -> None:
    """Print a DataFrame as a table (first ``limit`` rows)."""
    table = Table(title=title, show_lines=False)
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*[cell(v) for v in row])
    console.print(table)
    if len(frame) > limit:
        console.print(f"… {len(frame) - limit} lignes de plus (--output pour tout écrire)")


def print_notes(notes: list[str]) -> None:
    """Print the notes of a result, each once, as a bulleted list."""
    for note in dict.fromkeys(notes):
        console.print(f"  • {note}", highlight=False, soft_wrap=True)


def write_csv(frame: pd.DataFrame, output: Path | None) -> None:
    """Write ``frame`` to ``output`` as CSV (nothing when no output is asked).

    Text cells that a spreadsheet would run as a formula are neutralised
    (:func:`cohesion.spreadsheet.neutralise_formulas`).
    """
    if output is not None:
        neutralise_formulas(frame).to_csv(output, index=False)
        console.print(f"{len(frame)} lignes écrites dans {output}")


def print_import_report(report: Any) -> None:
    """What an import did, in one line and its notes."""
    if report.already_imported:
        console.print(f"{report.path.name} : déjà importé (jeu {report.dataset_id}), "
                      "rien n'a changé.")
        return
    console.print(f"{report.path.name} : {report.rows} lignes lues, {report.observations} "
                  f"valeurs enregistrées (jeu {report.dataset_id}, millésime "
                  f"{report.vintage}, périodes {', '.join(report.periods) or '—'}).")
    print_notes(list(report.notes))


@contextmanager
def steps_progress(description: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the current step, for work made of named steps."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=errors, transient=False) as progress:
        task = progress.add_task(description)

        def step(message: str) -> None:
            progress.update(task, description=f"{description} : {message}")

        yield step
        progress.update(task, description=f"{description} : terminé")
