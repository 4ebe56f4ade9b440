"""`yidi filing …` commands a clerk needs beyond `pending` / `decide`: search, history and a change of insurance
status.

Registered on cli.py's ``filing_app`` by ``register`` (this module never imports yidi.cli, so it works the
same under `python -m yidi.cli`).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

out = Console()
err = Console(stderr=True)


def _context():
    from yidi.config import get_settings
    from yidi.services.context import AppContext

    settings = get_settings()
    return AppContext.from_url(settings.database_url, demo_mode=settings.demo_mode)


def _fail(exc) -> None:
    err.print(f"[red]{exc.code}[/red] {exc.full_message()}")
    raise typer.Exit(1)


def search(region: Optional[str] = typer.Option(None, help="参保地 insured region (省代码含下辖各市)"),
           psn_no: Optional[str] = typer.Option(None, "--psn-no", help="人员编号"),
           certno: Optional[str] = typer.Option(None, help="证件号码"),
           status: Optional[str] = typer.Option(None, help="pending / active / rejected / changed / cancelled"),
           mdtrtarea: Optional[str] = typer.Option(None, help="就医地 treatment region"),
           limit: int = typer.Option(200, min=1, max=10_000),
           json_output: bool = typer.Option(False, "--json", help="JSON lines on stdout")) -> None:
    """备案查询 / search filings by person, certificate number, status and region."""
    from yidi.api.filings import filing_view
    from yidi.domain.errors import YidiError
    from yidi.services.filings import list_filings

    ctx = _context()
    try:
        filings = list_filings(ctx, psn_no=psn_no, certno=certno, status=status, insuplc_admdvs=region,
                               mdtrtarea_admvs=mdtrtarea, limit=limit)
    except YidiError as exc:
        _fail(exc)
    finally:
        ctx.engine.dispose()
    if json_output:
        for filing in filings:
            sys.stdout.write(json.dumps(filing_view(filing), ensure_ascii=False) + "\n")
        return
    table = Table(title=f"备案查询（{len(filings)} 条）")
    for column in ("filing_id", "psn_no", "参保地", "类型", "依据", "就医地", "开始", "结束", "状态", "办结期限"):
        table.add_column(column)
    for filing in filings:
        view = filing_view(filing)
        table.add_row(view["filing_id"], view["psn_no"], view["insuplc_admdvs"], view["type_name"], view["basis"],
                      view["mdtrtarea_admvs"], view["begndate"], view["enddate"] or "长期", view["status_name"],
                      view["approve_due_date"] or "")
    out.print(table)


def history(filing_id: str) -> None:
    """备案历史 / a filing's audit history (who, when, why), with the filings it replaced or was replaced by."""
    from yidi.domain.errors import YidiError
    from yidi.services.filings import filing_history, get_filing

    ctx = _context()
    try:
        filing = get_filing(ctx, filing_id)
        events = filing_history(ctx, filing_id)
    except YidiError as exc:
        _fail(exc)
    finally:
        ctx.engine.dispose()
    out.print(f"{filing.filing_id}  {filing.psn_no}  {filing.filing_type.value}  → {filing.mdtrtarea_admvs}  "
              f"{filing.begndate} – {filing.enddate or '长期'}  （{filing.status.value}）")
    if filing.replaces:
        out.print(f"  变更自 / replaces {filing.replaces}")
    if filing.replaced_by:
        out.print(f"  已变更为 / replaced by {filing.replaced_by}")
    table = Table(title="历史 / history")
    for column in ("日期", "事件", "状态", "经办人", "原因", "详情"):
        table.add_column(column)
    for event in events:
        details = ", ".join(f"{k}={v}" for k, v in (event["details"] or {}).items())
        table.add_row(event["on"], event["event"], event["status"], event["actor"], event["reason"], details)
    out.print(table)


def insurance_status(psn_no: str = typer.Argument(..., help="人员编号"),
                     status: str = typer.Argument(..., help="active 参保 / suspended 暂停 / ended 终止"),
                     on: str = typer.Option(..., "--on", help="变更日期 YYYY-MM-DD")) -> None:
    """登记参保状态变更 / record a change of insurance status: every standing filing ends the day before
    (seed 000 一(二): 参保状态未发生变更的，备案长期有效)."""
    from yidi.domain.errors import YidiError, invalid
    from yidi.services.filings import change_insurance_status

    ctx = _context()
    try:
        try:
            day = date.fromisoformat(on)
        except ValueError:
            raise invalid("on", "日期格式应为 YYYY-MM-DD") from None
        ended = change_insurance_status(ctx, psn_no, status, day, actor="cli")
    except YidiError as exc:
        _fail(exc)
    finally:
        ctx.engine.dispose()
    out.print(f"{psn_no} 参保状态 → {status}（{on}）；终止的备案 / filings ended: "
              + (", ".join(f.filing_id for f in ended) or "无"))


def register(filing_app: typer.Typer) -> None:
    filing_app.command("search")(search)
    filing_app.command("history")(history)
    filing_app.command("insurance-status")(insurance_status)
