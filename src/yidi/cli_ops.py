"""`yidi ops …`: planned outages of insured regions and the deferred-settlement queue (degraded mode, I2)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Optional

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ops_app = typer.Typer(help="运维 / operations: outages of insured regions, deferred settlements", no_args_is_help=True)
outage_app = typer.Typer(help="参保地计划停机 / planned outage windows of insured regions", no_args_is_help=True)
ops_app.add_typer(outage_app, name="outage")
out = Console()
err = Console(stderr=True)

TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def _context():
    from yidi.config import get_settings
    from yidi.services.context import AppContext

    settings = get_settings()
    return AppContext.from_url(settings.database_url, demo_mode=settings.demo_mode)


def _when(text: str, option: str) -> datetime:
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    err.print(f"[red]INVALID_INPUT[/red] {option} 应为 YYYY-MM-DD HH:MM（本地时间），收到 {text!r}")
    raise typer.Exit(2)


@outage_app.command("add")
def outage_add(region: str = typer.Option(..., "--region", help="参保地行政区划代码（省级代码覆盖全省）"),
               starts: str = typer.Option(..., "--from", help="开始时间 YYYY-MM-DD HH:MM（本地时间）"),
               ends: str = typer.Option(..., "--to", help="结束时间 YYYY-MM-DD HH:MM（不含）"),
               reason: str = typer.Option("计划停机", "--reason")) -> None:
    """登记停机窗口 / record an outage window: settlements for persons insured there are queued meanwhile."""
    from yidi.domain.errors import YidiError
    from yidi.services import ops

    ctx = _context()
    try:
        outage = ops.add_outage(ctx, region, _when(starts, "--from"), _when(ends, "--to"), reason=reason,
                                actor="cli")
    except YidiError as exc:
        err.print(f"[red]{exc.code}[/red] {exc.full_message()}")
        raise typer.Exit(2)
    out.print(f"已登记停机 #{outage.id}: {outage.admdvs} {outage.to_dict()['from']} ～ {outage.to_dict()['to']}")


@outage_app.command("list")
def outage_list(all_windows: bool = typer.Option(False, "--all", help="包括已结束的窗口"),
                json_output: bool = typer.Option(False, "--json")) -> None:
    """停机窗口列表 / current and future outage windows."""
    from yidi.services import ops

    outages = ops.list_outages(_context(), include_past=all_windows)
    if json_output:
        print(json.dumps([o.to_dict() for o in outages], ensure_ascii=False))
        return
    table = Table(title="参保地停机窗口 / outage windows")
    for column in ("#", "参保地", "开始", "结束", "原因", "状态"):
        table.add_column(column)
    now = datetime.now()
    for o in outages:
        state = "停机中" if o.active(now) else ("已结束" if o.ends_at <= now else "计划")
        table.add_row(str(o.id), o.admdvs, o.to_dict()["from"], o.to_dict()["to"], o.reason, state)
    out.print(table)


@outage_app.command("clear")
def outage_clear(region: Optional[str] = typer.Option(None, "--region", help="只结束该参保地的窗口（默认全部）")) -> None:
    """立即结束停机 / end current and planned windows now (the queue drains on the next call or `yidi ops drain`)."""
    from yidi.services import ops

    count = ops.clear_outages(_context(), region)
    out.print(f"已结束 {count} 个停机窗口；排队的结算将在下一笔结算请求时或执行 yidi ops drain 时办理")


@ops_app.command("queue")
def queue(state: str = typer.Option("queued", help="queued / settled / refused / settled_elsewhere / all"),
          json_output: bool = typer.Option(False, "--json")) -> None:
    """排队结算列表 / deferred settlements."""
    from yidi.services import ops

    rows = ops.queued(_context(), state=None if state == "all" else state)
    view = [{"id": r.id, "mdtrt_id": r.mdtrt_id, "msgid": r.msgid, "infno": r.infno, "insuplc_admdvs": r.insuplc_admdvs,
             "queued_at": f"{r.queued_at:%Y-%m-%d %H:%M:%S}", "state": r.state, "result": r.result} for r in rows]
    if json_output:
        print(json.dumps(view, ensure_ascii=False))
        return
    from yidi.cli_tables import print_table, status_word

    print_table(out, f"排队结算（{status_word(state)}）", ["序号", "就诊号", "报文号", "交易", "参保地", "排队时间", "状态", "结果"],
                [[v["id"], v["mdtrt_id"], v["msgid"], v["infno"], v["insuplc_admdvs"], v["queued_at"],
                  status_word(v["state"]), v["result"]] for v in view],
                ids=("就诊号", "报文号", "排队时间"))


@ops_app.command("drain")
def drain(json_output: bool = typer.Option(False, "--json")) -> None:
    """办理排队结算 / settle queued visits whose insured region is available again (idempotent)."""
    from yidi.interface import deferred  # replays each message through the interface's write path
    from yidi.services import ops

    ctx = _context()
    total = len(ops.queued(ctx))
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("办理排队结算", total=total)
        report = deferred.drain(ctx, progress=lambda: progress.advance(task))
    if json_output:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        out.print(f"已结算 {report.settled} · 被拒 {report.refused} · 已另行结算 {report.settled_elsewhere} · "
                  f"仍在排队 {report.still_queued}")
    raise typer.Exit(0 if report.still_queued == 0 else 1)
