"""`yidi import regions|persons|institutions FILE [--dry-run]` (services/imports.py): CSV or Excel with Chinese
headers; a dry run reports row by row what is wrong; an apply writes all rows or none."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from yidi.cli_guard import refuse
from yidi.domain.errors import YidiError

import_app = typer.Typer(help="导入基础数据 / import regions, persons, institutions from CSV or Excel",
                         no_args_is_help=True)
err = Console(stderr=True)
out = Console()
NAMES = {"regions": "区划", "persons": "参保人员", "institutions": "定点医药机构", "mappings": "医保目录对照"}


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
        refuse(exc)
    out.print(f"[green]已导入[/green] {NAMES[kind]} {report.rows} 行：新增 {report.added}，更新 {report.updated}")


def _command(kind: str):
    def command(path: Path = typer.Argument(..., help=".csv（UTF-8 或 GBK）或 .xlsx"),
                dry_run: bool = typer.Option(False, "--dry-run", help="只检查并逐行报告，不写入")) -> None:
        _run(kind, path, dry_run)

    command.__doc__ = f"导入{NAMES[kind]} / import {kind} (all rows or none)."
    return command


for _kind in NAMES:
    import_app.command(_kind)(_command(_kind))


def _policy_outcome(report, dry_run: bool, what: str) -> None:
    from yidi.services import policy_files

    for note in report.notes:
        out.print(f"[yellow]注意[/yellow] {note}")
    if report.problems:
        table = Table(title=f"{what}检查：{len(report.problems)} 处错误，未导入")
        table.add_column("问题")
        for problem in report.problems[:1000]:
            table.add_row(str(problem))
        out.print(table)
        raise typer.Exit(1)
    if dry_run:
        out.print(f"[green]检查通过[/green]（试运行，未写入）：将写入政策目录的 {report.target}，整套政策校验无误")
        return
    path = policy_files.install(report)
    out.print(f"[green]已导入[/green] {path}；重启服务后生效（yidi policy check 可查看生效参数）")


@import_app.command("catalog")
def import_catalog(path: Path = typer.Argument(..., help="就医地目录表 .csv / .xlsx"),
                   admdvs: str = typer.Option(..., help="目录所属区划（就医地，市或省/直辖市代码）"),
                   effective_from: str = typer.Option(..., help="新版本生效日期 YYYY-MM-DD"),
                   source: str = typer.Option("", help="政策依据（文号或文件名；行内“依据”列优先）"),
                   dry_run: bool = typer.Option(False, "--dry-run")) -> None:
    """导入就医地目录（新的生效版本）/ import a treatment catalog as a new dated version (YIDI_POLICY_DIR)."""
    from datetime import date

    from yidi.services import policy_files

    try:
        day = date.fromisoformat(effective_from)
        report = policy_files.check_catalog(path, admdvs, day, source)
    except ValueError:
        err.print("[red]INVALID_INPUT[/red] --effective-from 应为 YYYY-MM-DD")
        raise typer.Exit(2)
    except YidiError as exc:
        refuse(exc)
    _policy_outcome(report, dry_run, f"目录 {admdvs} 导入")


@import_app.command("policy")
def import_policy(path: Path = typer.Argument(..., help="带生效日期版本的政策 YAML（参保地 region: 或目录 admdvs:）"),
                  dry_run: bool = typer.Option(False, "--dry-run")) -> None:
    """导入政策文件 / install a dated policy YAML file into YIDI_POLICY_DIR after checking the whole book."""
    from yidi.services import policy_files

    try:
        report = policy_files.check_policy_file(path)
    except YidiError as exc:
        refuse(exc)
    _policy_outcome(report, dry_run, "政策文件导入")
