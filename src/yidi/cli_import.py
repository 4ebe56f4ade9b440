"""`yidi import regions|persons|institutions FILE [--dry-run]` (services/imports.py): CSV or Excel with Chinese
headers; a dry run reports row by row what is wrong; an apply writes all rows or none."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from yidi.domain.errors import YidiError

import_app = typer.Typer(help="导入基础数据 / import regions, persons, institutions from CSV or Excel",
                         no_args_is_help=True)
err = Console(stderr=True)
out = Console()
NAMES = {"regions": "区划", "persons": "参保人员", "institutions": "定点医药机构"}


def _run(kind: str, path: Path, dry_run: bool) -> None:
    from yidi.cli import _context
    from yidi.cli_accounts import operator
    from yidi.services import imports

    ctx = _context()
    report = imports.check(ctx, kind, path)
    if report.problems:
        table = Table(title=f"{NAMES[kind]}导入检查：{path.name} 有 {len(report.problems)} 处错误，未导入任何数据")
        for column in ("行号", "列", "问题"):
            table.add_column(column)
        for problem in report.problems[:1000]:
            table.add_row(str(problem.row or ""), problem.column, problem.message)
        out.print(table)
        if len(report.problems) > 1000:
            out.print(f"……另有 {len(report.problems) - 1000} 处错误未列出")
        raise typer.Exit(1)
    if dry_run:
        out.print(f"[green]检查通过[/green]（试运行，未写入）：{report.rows} 行，将新增 {report.added}、更新 {report.updated}")
        return
    try:
        report = imports.apply(ctx, kind, path, actor=operator())
    except YidiError as exc:
        err.print(f"[red]{exc.code}[/red] {exc.full_message()}")
        raise typer.Exit(1)
    out.print(f"[green]已导入[/green] {NAMES[kind]} {report.rows} 行：新增 {report.added}，更新 {report.updated}")


def _command(kind: str):
    def command(path: Path = typer.Argument(..., help=".csv（UTF-8 或 GBK）或 .xlsx"),
                dry_run: bool = typer.Option(False, "--dry-run", help="只检查并逐行报告，不写入")) -> None:
        _run(kind, path, dry_run)

    command.__doc__ = f"导入{NAMES[kind]} / import {kind} (all rows or none)."
    return command


for _kind in NAMES:
    import_app.command(_kind)(_command(_kind))
