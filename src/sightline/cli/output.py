"""How commands print what they find: a table for people, JSON or JSON Lines for programs.

On a terminal, a rich table with colours; piped, the same rows as tab-separated lines under a
header line (for `cut` and `awk`), never colours. `--json` prints one JSON document and `--jsonl`
one JSON object per line, whatever stdout is. Messages, progress bars and summaries go to stderr,
so stdout stays data; progress bars show only when stderr is a terminal.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import click
from pydantic import BaseModel
from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

F = TypeVar("F", bound=Callable[..., Any])


class Format(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"


def output_options(command: F) -> F:
    """`--json` and `--jsonl`, given to the command as `output: Format` (table otherwise)."""
    command = click.option(
        "--jsonl",
        "output",
        flag_value=Format.JSONL,
        type=click.UNPROCESSED,
        help="Print one JSON object per line (for streaming into other tools).",
    )(command)
    return click.option(
        "--json",
        "output",
        flag_value=Format.JSON,
        type=click.UNPROCESSED,
        default=Format.TABLE,
        help="Print JSON instead of a table.",
    )(command)


def plain(value: Any) -> Any:
    """A client answer (a typed model or a mapping) as plain JSON data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


@dataclass(frozen=True)
class Column:
    """A column of a table: its header, the cell of a row, and how the cell is aligned."""

    header: str
    cell: Callable[[Any], object]
    justify: str = "left"  # "right" for numbers
    style: str | None = None
    no_wrap: bool = False  # ids and moments stay whole; long text wraps
    optional: bool = False  # left out on a terminal too narrow for every column


def file_size(size: int | None) -> str:
    """Bytes as people read them: `812 B`, `1.4 MB` (powers of 1000, as file browsers show)."""
    if size is None:
        return ""
    if size < 1000:
        return f"{size} B"
    amount = size / 1000
    for unit in ("kB", "MB"):
        if amount < 1000:
            return f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{amount:.1f} GB"


def moment(value: str | None) -> str:
    """An ISO 8601 moment of the API as local date and time to the minute."""
    if not value:
        return ""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.astimezone().strftime("%Y-%m-%d %H:%M")


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


class Printer:
    """Prints for one command run in the format its flags chose."""

    def __init__(self, output: Format = Format.TABLE) -> None:
        self.output = output
        # highlight=False: rich would colour numbers and words inside cells by guesswork.
        self.out = Console(highlight=False, soft_wrap=False)
        self.err = Console(stderr=True, highlight=False)

    @property
    def for_people(self) -> bool:
        return self.output is Format.TABLE

    def rows(
        self, rows: Iterable[Any], columns: Sequence[Column], *, title: str | None = None
    ) -> int:
        """Prints `rows` (answers as the API gives them) as a table, or as JSON; returns how
        many there were. JSON Lines are printed as the rows come, so a long listing streams."""
        count = 0
        if self.output is Format.JSONL:
            for row in rows:
                click.echo(json.dumps(plain(row), ensure_ascii=False))
                count += 1
            return count
        collected = list(rows)
        if self.output is Format.JSON:
            click.echo(json.dumps(plain(collected), ensure_ascii=False, indent=2))
            return len(collected)
        if not self.out.is_terminal:
            click.echo("\t".join(column.header for column in columns))
            for row in collected:
                click.echo("\t".join(_one_line(cell_text(c.cell(row))) for c in columns))
            return len(collected)
        cells = [[cell_text(column.cell(row)) for column in columns] for row in collected]
        shown = list(range(len(columns)))
        table = _table(columns, shown, cells, title)
        # Too narrow a terminal: the optional columns go, the last first, before the others
        # are squeezed to a letter each.
        for index in reversed([i for i, column in enumerate(columns) if column.optional]):
            if _narrowest(columns, shown, cells) <= self.out.width:
                break
            shown.remove(index)
            table = _table(columns, shown, cells, title)
        self.out.print(Trimmed(table))
        return len(collected)

    def one(self, value: Any, columns: Sequence[Column]) -> None:
        """One answer as a table of one row for people, else the JSON object itself."""
        if self.for_people:
            self.rows([value], columns)
        else:
            self.record(value, str)

    def record(self, value: Any, render: Callable[[Any], RenderableType]) -> None:
        """One answer: `render(value)` (text or a rich renderable) for people, else JSON."""
        if self.output is Format.TABLE:
            rendered = render(value)
            # Plain text keeps its lines as they are (long ones are not folded at 80 columns
            # when piped); tables and groups fit the terminal, without their padding.
            if isinstance(rendered, str | Text):
                self.out.print(rendered, soft_wrap=True)
            else:
                self.out.print(Trimmed(rendered))
        else:
            indent = 2 if self.output is Format.JSON else None
            click.echo(json.dumps(plain(value), ensure_ascii=False, indent=indent))

    def note(self, message: str) -> None:
        """A line for people on stderr (counts, what was done); never mixed into data. Off a
        terminal it is printed whole, as given (not folded at 80 columns, brackets kept), so
        that a log or `grep` finds each summary on one line."""
        self.err.print(message, soft_wrap=not self.err.is_terminal, markup=False)

    def progress(self, *, bytes_: bool = False) -> Progress:
        """A progress display on stderr (files done of total, rate, time left). With `bytes_`,
        bars count bytes (and bytes per second) and each task says how many files in its
        `files` field (`add_task(..., files="3/20 files")`). It draws nothing unless stderr is
        a terminal."""
        columns: list[Any] = [
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[files]}") if bytes_ else MofNCompleteColumn(),
            TaskProgressColumn(),
        ]
        if bytes_:
            columns += [DownloadColumn(), TransferSpeedColumn()]
        columns += [TimeElapsedColumn(), TimeRemainingColumn()]
        return Progress(*columns, console=self.err, disable=not self.err.is_terminal)


class Trimmed:
    """A renderable printed without the spaces rich pads its lines with to the full width
    (tables, grids): no trailing spaces in what people copy or pipe."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in console.render_lines(self.renderable, options, pad=False):
            while line and not line[-1].control and not line[-1].text.rstrip():
                line.pop()
            if line and not line[-1].control:
                last = line.pop()
                line.append(Segment(last.text.rstrip(), last.style))
            yield from line
            yield Segment.line()


def _narrowest(columns: Sequence[Column], shown: Sequence[int], cells: list[list[str]]) -> int:
    """The width a table needs so that no word of it is cut: whole cells in columns that do
    not wrap, the longest word in the others, and the padding and rules between them."""
    width = 1
    for index in shown:
        texts = [columns[index].header, *(row[index] for row in cells)]
        if columns[index].no_wrap:
            width += max(cell_len(text) for text in texts)
        else:
            width += max((cell_len(word) for text in texts for word in text.split()), default=0)
        width += 3  # a space either side and the rule
    return width


def _table(
    columns: Sequence[Column], shown: Sequence[int], cells: list[list[str]], title: str | None
) -> Table:
    table = Table(
        title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, show_edge=False
    )
    for index in shown:
        column = columns[index]
        table.add_column(
            column.header,
            justify=column.justify,  # type: ignore[arg-type]
            style=column.style,
            no_wrap=column.no_wrap,
        )
    for row in cells:
        table.add_row(*(row[index] for index in shown))
    return table


def _one_line(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ")
