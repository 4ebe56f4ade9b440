"""``yidi hub clear | statement | prepay`` and ``yidi verify --federation`` (issue 17, docs/federation.md).

The hub's commands work on the hub's own database (as ``yidi hub serve`` does) and ask NATS only how many events the
hub has not applied yet: a month is cleared on everything that was sent. ``yidi verify --federation`` asks the hub and
every node of the registry over NATS; it needs no database.
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from yidi.cli_federation import FEDERATION_OPTION, NATS_OPTION, _nats, hub_app
from yidi.domain.errors import YidiError

out = Console()
err = Console(stderr=True)
HUB_DATABASE = typer.Option("sqlite:///./var/federation/hub.db", "--database-url", help="the hub's own database")


def _hub(database_url: str):
    from yidi.services.context import AppContext

    return AppContext.from_url(database_url)


def _print_statement(statement, as_json: bool) -> None:
    from yidi.domain.money import fen_to_yuan

    if as_json:
        out.print_json(json.dumps(statement.to_dict(), ensure_ascii=False))
        return
    table = Table(title=f"{statement.month} 全国清分 · 省级划拨（参保省 → 就医省）" + ("（已清分，未重复记账）" if statement.replayed else ""))
    for header in ("划出省", "划入省", "笔数", "当月（元）", "调整（元）", "划拨（元）"):
        table.add_column(header, justify="right" if "元" in header or header == "笔数" else "left")
    for t in statement.transfers:
        table.add_row(f"{t.from_province} {statement.name(t.from_province)}", f"{t.to_province} {statement.name(t.to_province)}",
                      str(t.count), fen_to_yuan(t.current_fen), fen_to_yuan(t.adjustment_fen), fen_to_yuan(t.net_fen))
    out.print(table)
    out.print(f"合计 {fen_to_yuan(statement.net_fen)} 元，{len(statement.flows)} 个市级流向")


@hub_app.command("clear")
def hub_clear(month: str = typer.Option(..., "--month", help="YYYY-MM, a month that has ended"),
              database_url: str = HUB_DATABASE, federation: str = FEDERATION_OPTION, nats_url: str | None = NATS_OPTION,
              accept_differences: bool = typer.Option(False, help="clear on the insured side's events even where "
                                                      "the treatment side's differ (recorded in the audit log)"),
              user: str = typer.Option("national", help="who runs it (audit)"),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """全国清分 / national 清分 of a month from both sides' settlement events (per province pair; once per month)."""
    from yidi.cli_guard import refuse
    from yidi.federation import hub_clearing
    from yidi.federation.bridge import Bridge
    from yidi.federation.subjects import Names

    ctx = _hub(database_url)
    bridge = Bridge(_nats(nats_url), name="hub-clear")
    try:
        consumer = hub_clearing.EventConsumer(ctx, bridge, Names(federation))  # only asked how much is pending
        statement = hub_clearing.clear(ctx, month, actor=user, accept_differences=accept_differences,
                                       consumer=consumer)
    except YidiError as exc:
        refuse(exc)
    finally:
        bridge.close()
        ctx.engine.dispose()
    _print_statement(statement, as_json)


@hub_app.command("statement")
def hub_statement(month: str = typer.Option(..., "--month"), database_url: str = HUB_DATABASE,
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """全国清分单 / the stored national statement of a month."""
    from yidi.cli_guard import refuse
    from yidi.services import clearing

    ctx = _hub(database_url)
    try:
        statement = clearing.get_statement(ctx, month)
    except YidiError as exc:
        refuse(exc)
    finally:
        ctx.engine.dispose()
    if statement is None:
        refuse(YidiError("NOT_FOUND", {"what": "全国清分单（尚未清分该月）", "key": month}))
    _print_statement(statement, as_json)


@hub_app.command("prepay")
def hub_prepay(year: int = typer.Option(..., "--year"), database_url: str = HUB_DATABASE,
               confirm: bool = typer.Option(False, help="store and post the adjustments (once per year)"),
               user: str = typer.Option("national", help="who confirms (audit)"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """预付金 / C1 per province pair from the insured side's Q4 events of the year before."""
    from yidi.federation import hub_clearing

    ctx = _hub(database_url)
    try:
        lines = (hub_clearing.confirm_prepayment(ctx, year, actor=user) if confirm
                 else hub_clearing.prepayment_plan(ctx, year))
    finally:
        ctx.engine.dispose()
    if as_json:
        out.print_json(json.dumps([line.to_dict() for line in lines], ensure_ascii=False))
        return
    table = Table(title=f"{year} 年度预付金（省际）")
    for header in ("付款省", "收款省", "Q4 笔数", "Q4 金额", "核定额度", "当前", "调整", "已确认"):
        table.add_column(header)
    for line in lines:
        shown = line.to_dict()
        table.add_row(line.payer_admdvs, line.payee_admdvs, str(line.q4_count), shown["q4_total"], shown["amount"],
                      shown["previous"], shown["adjustment"], "是" if line.confirmed else "否")
    out.print(table)


def verify_federated(federation: str, nats_url: str | None, as_json: bool) -> int:
    """Exit code: 0 all green, 1 a problem or a difference."""
    from yidi.federation.bridge import Bridge
    from yidi.federation.fed_verify import verify_federation
    from yidi.federation.subjects import Names

    names = Names(federation)
    bridge = Bridge(_nats(nats_url), name="verify")
    try:
        routes = [key.split(".", 1)[1] for key in bridge.kv_items(names.registry_bucket) if key.startswith("route.")]
        report = verify_federation(bridge, names, sorted(routes))
    finally:
        bridge.close()
    if as_json:
        out.print_json(json.dumps(report.to_dict(), ensure_ascii=False, default=str))
        return 0 if report.ok else 1
    for part, own in report.parts.items():
        label = "中心" if part == "hub" else f"节点 {part}"
        if "error" in own:
            out.print(f"[red]FAIL[/red] {label}: {own['error']}")
            continue
        bad = [name for name, state in own["checks"].items() if state != "ok"]
        out.print(f"{'[green]ok[/green]  ' if not bad else '[red]FAIL[/red]'} {label}: {len(own['checks'])} 项自检"
                  + (f"，不通过：{', '.join(bad)}" if bad else ""))
    agreeing = sum(1 for figures in report.pairs.values() if len({str(f) for f in figures.values()}) == 1)
    out.print(f"{'[green]ok[/green]  ' if agreeing == len(report.pairs) else '[red]FAIL[/red]'} 两地对账：{len(report.pairs)} 个"
              f"「月份 × 参保省 → 就医省」，{agreeing} 个四方一致（参保地节点、就医地节点、中心的两侧事件）")
    for name, note in report.notes.items():
        out.print(f"      {name}: {note}")
    for problem in report.problems:
        err.print(f"  {problem}")
    return 0 if report.ok else 1
