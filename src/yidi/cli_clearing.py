"""`yidi clearing …` — funds batch work (C1–C5): monthly clearing, prepayment, interest, fees, reconciliation."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from yidi.cli_guard import refuse
from yidi.domain.errors import YidiError
from yidi.domain.money import MoneyFormatError, fen_to_yuan, yuan_to_fen

clearing_app = typer.Typer(help="资金清算 / funds: prepayment, monthly clearing, ledger, reconciliation", no_args_is_help=True)
err = Console(stderr=True)
out = Console()


def _context():
    from yidi.config import get_settings
    from yidi.services.context import AppContext

    settings = get_settings()
    return AppContext.from_url(settings.database_url, demo_mode=settings.demo_mode)


def _fail(exc: YidiError) -> None:
    refuse(exc)


def _fen(text: str, name: str) -> int:
    try:
        return yuan_to_fen(text)
    except MoneyFormatError as exc:
        err.print(f"[red]INVALID_INPUT[/red] {name}: {exc}")
        raise typer.Exit(2)


def _json(document) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=1) + "\n")


@contextmanager
def _progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar on stderr, one line per phase (reading settlements, posting)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=max(total, 1))
            bar.update(tasks[phase], completed=done, total=max(total, 1))

        yield progress


def _login(username: str):
    """The named user, authenticated: password from YIDI_PASSWORD (scripts) or asked for (hidden)."""
    import os

    from yidi.services.users import authenticate

    password = os.environ.get("YIDI_PASSWORD") or typer.prompt(f"{username} 的密码", hide_input=True)
    try:
        return authenticate(_context(), username, password)
    except YidiError as exc:
        _fail(exc)


def _request(action: str, params: dict, user: str) -> None:
    """Step one of two-person confirmation (services/approvals.py): nothing moves until another user approves."""
    from yidi.services import approvals

    try:
        asked = approvals.request(_context(), _login(user), action, params)
    except YidiError as exc:
        _fail(exc)
    err.print(f"复核申请 {asked.request_id}（{asked.title}）由 {asked.initiator} 发起，待另一名用户复核后执行：")
    err.print(f"  yidi clearing approve {asked.request_id} --user <复核人>")
    print(asked.request_id)


@clearing_app.command("run")
def run(month: str = typer.Option(..., help="清算月份 YYYY-MM"),
        user: Optional[str] = typer.Option(None, help="发起人（登录名；清算须另一用户 approve 后执行）"),
        csv_dir: Optional[Path] = typer.Option(None, "--csv", help="把清算单、省级划拨、市级清算单写成 CSV 到此目录"),
        xlsx: Optional[Path] = typer.Option(None, help="把全部清算单写进一个 Excel 文件"),
        json_output: bool = typer.Option(False, "--json", help="JSON on stdout")) -> None:
    """月度清算 / C2: a month already cleared is shown (and exported); otherwise --user asks for the clearing,
    which runs when a different user approves it (`yidi clearing approve`)."""
    from yidi.services.clearing import get_statement

    try:
        statement = get_statement(_context(), month)
    except YidiError as exc:
        _fail(exc)
    if statement is None:
        if not user:
            err.print(f"{month} 尚未清算：清算须两人办理，请加 --user <发起人> 发起，再由另一用户 yidi clearing approve")
            raise typer.Exit(2)
        _request("clearing.run", {"month": month}, user)
        return
    _show_statement(statement, csv_dir, xlsx, json_output)


def _show_statement(statement, csv_dir: Optional[Path], xlsx: Optional[Path], json_output: bool) -> None:
    from yidi.services.clearing import export_csv, export_xlsx

    if csv_dir:
        for path in export_csv(statement, csv_dir):
            err.print(f"written {path}")
    if xlsx:
        err.print(f"written {export_xlsx(statement, xlsx)}")
    if json_output:
        _json(statement.to_dict())
        return
    _print_statement(statement)


@clearing_app.command("approve")
def approve(request_id: str, user: str = typer.Option(..., help="复核人（登录名，须与发起人不同）"),
            json_output: bool = typer.Option(False, "--json")) -> None:
    """复核并执行 / approve a request of another user: the clearing or prepayment confirmation runs now."""
    from yidi.services import approvals

    ctx = _context()
    approver = _login(user)
    try:
        result = approvals.approve(ctx, approver, request_id)
    except YidiError as exc:
        _fail(exc)
    if isinstance(result, list):  # prepayment lines
        _print_prepayment(result, approvals.get_request(ctx, request_id).params["year"], json_output)
    else:
        _show_statement(result, None, None, json_output)


@clearing_app.command("requests")
def requests(all_states: bool = typer.Option(False, "--all", help="含已执行、已撤回的申请")) -> None:
    """待复核申请 / requests waiting for a second person."""
    from yidi.services import approvals

    table = Table(title="资金复核申请")
    for column in ("request_id", "事项", "发起人", "发起时间", "状态", "复核人", "结果"):
        table.add_column(column)
    for item in approvals.list_requests(_context(), status=None if all_states else "pending"):
        table.add_row(item.request_id, item.title, item.initiator, str(item.initiated_at), item.status,
                      item.approver or "", item.result)
    out.print(table)


def _print_statement(statement) -> None:
    note = "（已清算，返回已保存的清算单，未重复记账）" if statement.replayed else ""
    table = Table(title=f"{statement.month} 省级划拨（参保省财政专户 → 就医省财政专户）{note}")
    for column in ("划出省", "划入省"):
        table.add_column(column)
    for column in ("笔数", "当月（元）", "调整（元）", "划拨（元）"):
        table.add_column(column, justify="right")
    for t in statement.transfers:
        table.add_row(f"{t.from_province} {statement.name(t.from_province)}",
                      f"{t.to_province} {statement.name(t.to_province)}", str(t.count),
                      fen_to_yuan(t.current_fen), fen_to_yuan(t.adjustment_fen), fen_to_yuan(t.net_fen))
    out.print(table)
    cities = Table(title=f"{statement.month} 市级清算单")
    for column in ("地区", "应付（参保地）元", "应收（就医地）元"):
        cities.add_column(column)
    for city in statement.cities():
        sheet = statement.city_statement(city)
        cities.add_row(f"{city} {statement.name(city)}", fen_to_yuan(sheet["payable_fen"]),
                       fen_to_yuan(sheet["receivable_fen"]))
    out.print(cities)
    out.print(f"当月 {fen_to_yuan(statement.current_fen)} 元，调整 {fen_to_yuan(statement.adjustment_fen)} 元，"
              f"应清算 {fen_to_yuan(statement.net_fen)} 元；{len(statement.flows)} 条流向")


@clearing_app.command("show")
def show(month: str = typer.Option(..., help="清算月份 YYYY-MM"),
         json_output: bool = typer.Option(False, "--json")) -> None:
    """查看已保存的清算单 / show a stored clearing statement."""
    from yidi.services.clearing import get_statement

    try:
        statement = get_statement(_context(), month)
    except YidiError as exc:
        _fail(exc)
    if statement is None:
        err.print(f"{month} 尚未清算")
        raise typer.Exit(2)
    _json(statement.to_dict()) if json_output else _print_statement(statement)


@clearing_app.command("prepay")
def prepay(year: int = typer.Option(..., help="预付年度，如 2024（按上年第四季度核定）"),
           confirm: bool = typer.Option(False, "--confirm", help="发起确认（另一用户 approve 后记账）"),
           user: Optional[str] = typer.Option(None, help="发起人（登录名），--confirm 时必填"),
           json_output: bool = typer.Option(False, "--json")) -> None:
    """年度预付金 / C1: 2 × the monthly average of last year's Q4, per flow; --confirm --user asks for the
    posting, which happens when a different user approves it (`yidi clearing approve`)."""
    from yidi.services import prepayment

    if confirm:
        if not user:
            err.print("确认预付金须两人办理：请加 --user <发起人>，再由另一用户 yidi clearing approve")
            raise typer.Exit(2)
        _request("prepayment.confirm", {"year": year}, user)
        return
    with _progress_bar() as progress:
        try:
            lines = prepayment.plan(_context(), year, progress)
        except YidiError as exc:
            _fail(exc)
    _print_prepayment(lines, year, json_output)


def _print_prepayment(lines, year: int, json_output: bool) -> None:
    if json_output:
        _json([line.to_dict() for line in lines])
        return
    table = Table(title=f"{year} 年度预付金（上年第四季度月均值 × 2）")
    table.add_column("流向")
    for column in ("Q4笔数", "Q4合计", "核定额度", "当前预付金", "调整额度"):
        table.add_column(column, justify="right")
    table.add_column("状态")
    for line in lines:
        table.add_row(f"{line.payer_admdvs}→{line.payee_admdvs}", str(line.q4_count), fen_to_yuan(line.q4_total_fen),
                      fen_to_yuan(line.amount_fen), fen_to_yuan(line.previous_fen), fen_to_yuan(line.adjustment_fen),
                      "已确认" if line.confirmed else "待确认")
    out.print(table)
    out.print("金额单位：元。" + ("" if all(line.confirmed for line in lines)
                               else "确认调整额度并记账：--confirm --user <发起人>，再由另一用户复核"))


@clearing_app.command("interest")
def interest(flow: str = typer.Option(..., help="预付金流向 付款方-收款方，如 410000-110000"),
             amount: str = typer.Option(..., help="利息（元）"), on: Optional[str] = None,
             actor: str = typer.Option("cli-clearing")) -> None:
    """预付金利息 / C3: booked to the treatment side's 利息收入."""
    from yidi.services.prepayment import record_interest

    payer, _, payee = flow.partition("-")
    try:
        entry_id = record_interest(_context(), payer, payee, _fen(amount, "amount"),
                                   on=date.fromisoformat(on) if on else None, actor=actor)
    except YidiError as exc:
        _fail(exc)
    out.print(f"{entry_id}: {payee} 利息收入 {amount} 元（归就医地所有）")


@clearing_app.command("fee")
def fee(region: str = typer.Option(..., help="经办机构所在地区 admdvs"), amount: str = typer.Option(..., help="元"),
        memo: str = "", actor: str = typer.Option("cli-clearing")) -> None:
    """银行手续费 / C3: paid from the agency's 经费, never from the fund."""
    from yidi.services.prepayment import record_bank_fee

    try:
        entry_id = record_bank_fee(_context(), region, _fen(amount, "amount"), memo=memo, actor=actor)
    except YidiError as exc:
        _fail(exc)
    out.print(f"{entry_id}: {region} 经费支出 {amount} 元")


@clearing_app.command("reconcile")
def reconcile(month: str = typer.Option(..., help="清算月份 YYYY-MM"),
              region: Optional[str] = typer.Option(None, help="只核对该参保地（admdvs）的结算和流向"),
              json_output: bool = typer.Option(False, "--json")) -> None:
    """对账 / C4: settlements vs ledger vs clearing transfers; exit 1 when anything differs."""
    from yidi.services.finance_reconciliation import reconcile as run_reconcile

    try:
        report = run_reconcile(_context(), month, region)
    except YidiError as exc:
        _fail(exc)
    if json_output:
        _json(report.to_dict())
    else:
        out.print(f"{month}：核对结算 {report.settlements_checked} 笔，清算流向 {report.flows_checked} 条，"
                  f"{'已清算' if report.cleared else '尚未清算'}")
        for difference in report.differences:
            out.print(f"[red]{difference.check}[/red] {difference.reason} {difference.setl_id or ''} "
                      f"{difference.flow or ''} 应为 {difference.to_dict()['expected']} 实为 {difference.to_dict()['actual']}")
        out.print("[green]账账相符、账款相符[/green]" if report.balanced else f"[red]{len(report.differences)} 处不符[/red]")
    raise typer.Exit(0 if report.balanced else 1)


@clearing_app.command("verify")
def verify() -> None:
    """检查总账 / every entry balances, no entry mixes 基金 and 经费 (exit 1 on problems)."""
    from yidi.services import ledger

    problems, total = ledger.verify_books(_context())
    for problem in problems:
        err.print(f"[red]{problem}[/red]")
    out.print(f"试算平衡合计 {fen_to_yuan(total)} 元；{len(problems)} 个问题")
    raise typer.Exit(1 if problems or total else 0)


@clearing_app.command("recover")
def recover(setl_id: str, amount: str = typer.Option(..., help="元"),
            kind: str = typer.Option("recovery", help="recovery 追回/扣款（回参保地）或 fine 罚款/违约金（归就医地）"),
            actor: str = typer.Option("cli-clearing")) -> None:
    """监管追回 / C5: record a recovery or a fine on one settlement."""
    from yidi.services.recoveries import record_recovery

    try:
        entry_id = record_recovery(_context(), setl_id, _fen(amount, "amount"), kind, actor=actor)
    except YidiError as exc:
        _fail(exc)
    out.print(f"{entry_id}: {setl_id} {kind} {amount} 元")
