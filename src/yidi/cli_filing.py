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

from yidi.cli_tables import print_table, status_word
from yidi.domain.filing import TYPE_NAMES
from yidi.wording import BASIS_NAMES

out = Console()
err = Console(stderr=True)


def _context():
    from yidi.config import get_settings
    from yidi.services.context import AppContext

    settings = get_settings()
    return AppContext.from_url(settings.database_url, demo_mode=settings.demo_mode)


def _fail(exc) -> None:
    from yidi.cli_guard import refuse

    refuse(exc)  # coded, in the person's words, exit 2


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

    from yidi.cli_guard import known_region
    from yidi.services.directory import person_names, region_names

    ctx = _context()
    try:
        for code in (region, mdtrtarea):
            if code:
                known_region(ctx, code)
        filings = list_filings(ctx, psn_no=psn_no, certno=certno, status=status, insuplc_admdvs=region,
                               mdtrtarea_admvs=mdtrtarea, limit=limit)
        names, regions = person_names(ctx, [f.psn_no for f in filings]), region_names(ctx)
    except YidiError as exc:
        _fail(exc)
    finally:
        ctx.engine.dispose()
    if json_output:
        for filing in filings:
            sys.stdout.write(json.dumps(filing_view(filing), ensure_ascii=False) + "\n")
        return
    rows = []
    for filing in sorted(filings, key=lambda f: (f.begndate, f.filing_id)):
        view = filing_view(filing)
        ended_before_start = filing.enddate is not None and filing.enddate < filing.begndate
        rows.append([view["filing_id"], view["psn_no"], names.get(filing.psn_no, ""),
                     regions.get(filing.insuplc_admdvs, filing.insuplc_admdvs), view["type_name"],
                     BASIS_NAMES.get(filing.basis.value, filing.basis.value),
                     regions.get(filing.mdtrtarea_admvs, filing.mdtrtarea_admvs), view["begndate"],
                     "未生效" if ended_before_start else (view["enddate"] or "长期"), view["status_name"],
                     view["approve_due_date"] or ""])
    print_table(out, f"备案查询（{len(filings)} 条）", ["备案号", "人员编号", "姓名", "参保地", "备案类型", "备案方式",
                                                    "就医地", "开始日期", "结束日期", "状态", "审核期限"],
                rows, ids=("备案号", "人员编号", "开始日期", "结束日期", "审核期限"))


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
    ended_before_start = filing.enddate is not None and filing.enddate < filing.begndate
    period = ("未生效（开始前已变更或取消）" if ended_before_start
              else f"{filing.begndate} 至 {filing.enddate}" if filing.enddate else f"{filing.begndate} 起长期有效")
    out.print(f"{filing.filing_id}  {filing.psn_no}  {TYPE_NAMES[filing.filing_type]} → {filing.mdtrtarea_admvs}  "
              f"{period}  （{status_word(filing.status.value)}）")
    if filing.replaces:
        out.print(f"  变更自 {filing.replaces}")
    if filing.replaced_by:
        out.print(f"  已变更为 {filing.replaced_by}")
    rows = [[event["on"], status_word(event["event"]), status_word(event["status"]), event["actor"], event["reason"],
             "，".join(f"{k}={v}" for k, v in (event["details"] or {}).items())] for event in events]
    print_table(out, "办理记录", ["日期", "事项", "状态", "经办人", "原因", "详情"], rows, ids=("日期",))


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
