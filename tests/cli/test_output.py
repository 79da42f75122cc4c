from __future__ import annotations

import io
import json

import click
from click.testing import CliRunner
from pydantic import BaseModel
from rich.console import Console

from sightline.cli.output import Column, Format, Printer, output_options


class Thing(BaseModel):
    name: str
    score: float


ROWS = [{"name": "cat", "score": 0.91234}, Thing(name="dog\tlike", score=0.5)]
COLUMNS = [
    Column("Name", lambda row: row["name"] if isinstance(row, dict) else row.name),
    Column("Score", lambda row: row["score"] if isinstance(row, dict) else row.score, "right"),
]


@click.command()
@output_options
def things(output: Format) -> None:
    printer = Printer(output)
    count = printer.rows(ROWS, COLUMNS)
    printer.note(f"{count} things")


def test_piped_tables_are_tab_separated_with_a_header_and_notes_go_to_stderr() -> None:
    result = CliRunner().invoke(things, [])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["Name\tScore", "cat\t0.912", "dog like\t0.500"]
    assert "2 things" in result.stderr
    assert "\x1b[" not in result.output  # no colours off a terminal


def test_json_and_jsonl_print_the_answers_themselves() -> None:
    whole = CliRunner().invoke(things, ["--json"])
    assert json.loads(whole.stdout) == [
        {"name": "cat", "score": 0.91234},
        {"name": "dog\tlike", "score": 0.5},
    ]
    lines = CliRunner().invoke(things, ["--jsonl"]).stdout.splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["cat", "dog\tlike"]


@click.command()
@output_options
def report(output: Format) -> None:
    Printer(output).record({"line": "x" * 120}, lambda value: value["line"])


def test_a_record_in_words_keeps_long_lines_whole_when_piped() -> None:
    assert CliRunner().invoke(report, []).stdout == "x" * 120 + "\n"
    assert json.loads(CliRunner().invoke(report, ["--json"]).stdout) == {"line": "x" * 120}


def terminal_table(width: int) -> str:
    printer = Printer()
    printer.out = Console(file=io.StringIO(), width=width, force_terminal=True, no_color=True)
    columns = [
        Column("Name", lambda row: row["name"], no_wrap=True),
        Column("Uploaded", lambda row: "2026-12-07 04:54", no_wrap=True, optional=True),
        Column("Score", lambda row: row["score"], "right"),
    ]
    printer.rows([{"name": "a-rather-long-name", "score": 0.5}], columns)
    assert isinstance(printer.out.file, io.StringIO)
    return printer.out.file.getvalue()


def test_a_narrow_terminal_leaves_the_optional_columns_out_first() -> None:
    assert "Uploaded" in terminal_table(80) and "2026-12-07 04:54" in terminal_table(80)
    assert all(line == line.rstrip() for line in terminal_table(80).splitlines())
    narrow = terminal_table(34)
    assert "Uploaded" not in narrow
    assert "a-rather-long-name" in narrow and "0.500" in narrow


@click.command()
def summarise() -> None:
    Printer().note("20 files: 17 uploaded, 1 duplicate, 1 already stored, 1 rejected; " * 3)
    Printer().note("[bold]kept as written[/bold]")


def test_notes_are_printed_whole_when_stderr_is_not_a_terminal() -> None:
    lines = CliRunner().invoke(summarise, []).stderr.splitlines()
    assert lines == [
        "20 files: 17 uploaded, 1 duplicate, 1 already stored, 1 rejected; " * 3,
        "[bold]kept as written[/bold]",
    ]
