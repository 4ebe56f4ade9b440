"""Monthly clearing (C2): national 清分 by province pair, province → city allocation, ledger transfers.

``run_clearing(ctx, "2024-03")`` reads the month's cross-region direct settlements (DuckDB, see
adapters/analytics.py), stores the run and one line per insured city → treatment city flow, and posts
one balanced entry per flow: the insured city's 异地清算应付 is settled from its 财政专户存款 into the
treatment city's, clearing that city's 异地清算应收. The province-pair transfers (参保地省级财政专户 →
就医地省级财政专户) are the roll-up of those lines; provinces are where the money is routed, the cities
are whose money it is.

Idempotent: the run is keyed by month. A second call returns the stored statement and posts nothing.
A settlement cancelled after its month was cleared is carried into the month of the cancellation as a
negative adjustment (see analytics.CLEARING_SQL).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from yidi.adapters import analytics
from yidi.adapters.orm import PostingRow, RegionRow
from yidi.adapters.orm_funds import ClearingLineRow, ClearingRunRow
from yidi.domain.clearing import FlowAmount, ProvinceTransfer, month_bounds, net_positions, province_transfers
from yidi.domain.errors import YidiError
from yidi.domain.money import fen_to_yuan
from yidi.services import audit, ledger
from yidi.services.context import AppContext
from yidi.services.scope import RegionScope

Progress = analytics.Progress


@dataclass
class ClearingStatement:
    month: str
    period_end: date
    flows: list[FlowAmount]
    watermark_posting_id: int
    replayed: bool = False  # True when the month had already been cleared (nothing new was posted)
    region_names: dict[str, str] = field(default_factory=dict)
    # None: the national statement. A region code: only the part that concerns that region (part_for), which
    # carries no national figures — no province transfers, no statement totals.
    region: str | None = None

    def part_for(self, region: str) -> ClearingStatement:
        """The flows ``region`` pays (insured there) or receives (treated there); a province covers its cities."""
        flows = [flow for flow in self.flows
                 if RegionScope(region).covers_any(flow.insuplc_admdvs, flow.mdtrtarea_admvs)]
        return ClearingStatement(self.month, self.period_end, flows, self.watermark_posting_id, self.replayed,
                                 self.region_names, region=region)

    @property
    def national(self) -> bool:
        return self.region is None

    @property
    def file_stem(self) -> str:
        """清算单-2024-03 for the national statement, 清算单-2024-03-410800 for one region's part."""
        return f"清算单-{self.month}" + ("" if self.national else f"-{self.region}")

    @property
    def transfers(self) -> list[ProvinceTransfer]:
        return province_transfers(self.flows)

    @property
    def province_positions(self) -> dict[str, int]:
        return net_positions(self.transfers)

    @property
    def current_fen(self) -> int:
        return sum(flow.current_fen for flow in self.flows)

    @property
    def adjustment_fen(self) -> int:
        return sum(flow.adjustment_fen for flow in self.flows)

    @property
    def net_fen(self) -> int:
        return sum(flow.net_fen for flow in self.flows)

    def name(self, admdvs: str) -> str:
        return self.region_names.get(admdvs, "")

    def city_statement(self, admdvs: str) -> dict[str, Any]:
        """One city's statement: what it pays as insured city and receives as treatment city."""
        payable = [flow for flow in self.flows if flow.insuplc_admdvs == admdvs]
        receivable = [flow for flow in self.flows if flow.mdtrtarea_admvs == admdvs]
        return {"admdvs": admdvs, "name": self.name(admdvs),
                "payable": payable, "receivable": receivable,
                "payable_fen": sum(flow.net_fen for flow in payable),
                "receivable_fen": sum(flow.net_fen for flow in receivable)}

    def cities(self) -> list[str]:
        """The cities with a statement: every city with a flow; in a region's part, that region's own cities."""
        ends = {flow.insuplc_admdvs for flow in self.flows} | {flow.mdtrtarea_admvs for flow in self.flows}
        return sorted(city for city in ends if RegionScope(self.region).covers(city))

    def flow_dict(self, flow: FlowAmount) -> dict[str, Any]:
        return {"insuplc_admdvs": flow.insuplc_admdvs, "insuplc_name": self.name(flow.insuplc_admdvs),
                "mdtrtarea_admvs": flow.mdtrtarea_admvs, "mdtrtarea_name": self.name(flow.mdtrtarea_admvs),
                "insured_province": flow.insured_province, "treatment_province": flow.treatment_province,
                "current_count": flow.current_count, "current": fen_to_yuan(flow.current_fen),
                "adjustment_count": flow.adjustment_count, "adjustment": fen_to_yuan(flow.adjustment_fen),
                "net": fen_to_yuan(flow.net_fen)}

    def to_dict(self) -> dict[str, Any]:
        sheets = {city: self.city_statement(city) for city in self.cities()}
        cities = [{"admdvs": city, "name": self.name(city), "payable": fen_to_yuan(sheet["payable_fen"]),
                   "receivable": fen_to_yuan(sheet["receivable_fen"])} for city, sheet in sheets.items()]
        if not self.national:
            return {"month": self.month, "period_end": self.period_end.isoformat(), "admdvs": self.region,
                    "flows": [self.flow_dict(flow) for flow in self.flows], "cities": cities}
        return {
            "month": self.month, "period_end": self.period_end.isoformat(), "replayed": self.replayed,
            "current": fen_to_yuan(self.current_fen), "adjustment": fen_to_yuan(self.adjustment_fen),
            "net": fen_to_yuan(self.net_fen),
            "flows": [self.flow_dict(flow) for flow in self.flows],
            "province_transfers": [
                {"from_province": t.from_province, "from_name": self.name(t.from_province),
                 "to_province": t.to_province, "to_name": self.name(t.to_province), "count": t.count,
                 "current": fen_to_yuan(t.current_fen), "adjustment": fen_to_yuan(t.adjustment_fen),
                 "net": fen_to_yuan(t.net_fen)} for t in self.transfers],
            "province_positions": {code: fen_to_yuan(amount) for code, amount in self.province_positions.items()},
            "cities": cities,
        }


def clearing_entry_id(month: str, insuplc_admdvs: str, mdtrtarea_admvs: str) -> str:
    return f"C-{month}-{insuplc_admdvs}-{mdtrtarea_admvs}"


def clearing_lines(flow: FlowAmount) -> list[tuple[str, int]]:
    """The transfer for one flow (negative net = the treatment side gives money back)."""
    insured, treatment, amount = flow.insuplc_admdvs, flow.mdtrtarea_admvs, flow.net_fen
    return [
        (ledger.account(insured, "异地清算应付", treatment), amount),
        (ledger.account(insured, "财政专户存款"), -amount),
        (ledger.account(treatment, "财政专户存款"), amount),
        (ledger.account(treatment, "异地清算应收", insured), -amount),
    ]


def _region_names(ctx: AppContext) -> dict[str, str]:
    with ctx.unit_of_work() as session:
        return {code: name for code, name in session.execute(select(RegionRow.admdvs, RegionRow.name))}


def _flow_of(line: ClearingLineRow) -> FlowAmount:
    return FlowAmount(line.insuplc_admdvs, line.mdtrtarea_admvs, line.current_count, line.current_fen,
                      line.adjustment_count, line.adjustment_fen)


def get_statement(ctx: AppContext, month: str) -> ClearingStatement | None:
    month_bounds(month)
    with ctx.unit_of_work() as session:
        run = session.get(ClearingRunRow, month)
        if run is None:
            return None
        lines = session.scalars(select(ClearingLineRow).where(ClearingLineRow.month == month)
                                .order_by(ClearingLineRow.insuplc_admdvs, ClearingLineRow.mdtrtarea_admvs)).all()
        statement = ClearingStatement(month, run.period_end, [_flow_of(line) for line in lines],
                                      run.watermark_posting_id, replayed=True)
    statement.region_names = _region_names(ctx)
    return statement


def list_runs(ctx: AppContext) -> list[dict[str, Any]]:
    with ctx.unit_of_work() as session:
        runs = session.scalars(select(ClearingRunRow).order_by(ClearingRunRow.month.desc())).all()
        return [{"month": run.month, "period_end": run.period_end.isoformat(),
                 "current_count": run.current_count, "current": fen_to_yuan(run.current_fen),
                 "adjustment_count": run.adjustment_count, "adjustment": fen_to_yuan(run.adjustment_fen),
                 "net": fen_to_yuan(run.current_fen + run.adjustment_fen), "actor": run.actor} for run in runs]


def compute_flows(ctx: AppContext, month: str, progress: Progress | None = None) -> tuple[list[FlowAmount], int]:
    """Read the month from the database (one consistent snapshot) and aggregate it on DuckDB.
    Returns the flows and the ledger watermark (highest posting id) of that snapshot."""
    start, end = month_bounds(month)
    connection = ctx.engine.connect()
    if ctx.is_postgres:  # one snapshot for the watermark and the rows
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    duck = analytics.connect()
    try:
        with connection.begin():
            watermark = int(connection.execute(select(func.coalesce(func.max(PostingRow.id), 0))).scalar_one())
            analytics.load_settlements(duck, connection, start, end, progress=progress, phase="读取结算数据")
        rows = analytics.clearing_flows(duck, start, end)
    finally:
        connection.close()
        duck.close()
    return [FlowAmount(*row) for row in rows], watermark


def run_clearing(ctx: AppContext, month: str, *, actor: str = "system", today: date | None = None,
                 progress: Progress | None = None,
                 compute: Callable[..., Any] | None = None) -> ClearingStatement:
    """``compute(ctx, month, progress) -> (flows, watermark)``: where the month's flows come from — this
    database's settlements (``compute_flows``, one node), or the hub's settlement events (federation/hub_clearing.py)."""
    start, end = month_bounds(month)
    if end >= (today or date.today()):
        raise YidiError("CLEARING_MONTH_OPEN", {"month": month, "period_end": end.isoformat()})
    existing = get_statement(ctx, month)
    if existing is not None:
        return existing
    flows, watermark = (compute or compute_flows)(ctx, month, progress)
    try:
        with ctx.unit_of_work() as session:
            if session.get(ClearingRunRow, month) is not None:  # cleared meanwhile by another process
                raise _AlreadyCleared
            session.add(ClearingRunRow(
                month=month, period_end=end, watermark_posting_id=watermark,
                current_count=sum(f.current_count for f in flows), current_fen=sum(f.current_fen for f in flows),
                adjustment_count=sum(f.adjustment_count for f in flows),
                adjustment_fen=sum(f.adjustment_fen for f in flows), actor=actor))
            session.flush()
            batch = 20_000
            for offset in range(0, len(flows), batch):
                entries, lines = [], []
                for flow in flows[offset:offset + batch]:
                    entry_id = ""  # a flow whose adjustment cancels its month exactly moves no money
                    if flow.net_fen != 0:
                        entry_id = clearing_entry_id(month, flow.insuplc_admdvs, flow.mdtrtarea_admvs)
                        entries.append(ledger.Entry(entry_id, "clearing", month, end, clearing_lines(flow),
                                                    f"{month} 异地就医清算 {flow.insuplc_admdvs}→{flow.mdtrtarea_admvs}"))
                    lines.append(dict(
                        month=month, insuplc_admdvs=flow.insuplc_admdvs, mdtrtarea_admvs=flow.mdtrtarea_admvs,
                        insured_province=flow.insured_province, treatment_province=flow.treatment_province,
                        current_count=flow.current_count, current_fen=flow.current_fen,
                        adjustment_count=flow.adjustment_count, adjustment_fen=flow.adjustment_fen,
                        net_fen=flow.net_fen, entry_id=entry_id))
                ledger.post_many(session, entries)
                session.execute(insert(ClearingLineRow), lines)
                if progress:
                    progress("记账", min(offset + batch, len(flows)), len(flows))
            audit.record(session, actor, "clearing.run", month,
                         {"flows": len(flows), "net": fen_to_yuan(sum(f.net_fen for f in flows))})
    except (_AlreadyCleared, IntegrityError):
        replay = get_statement(ctx, month)
        if replay is None:
            raise
        return replay
    statement = ClearingStatement(month, end, flows, watermark, replayed=False)
    statement.region_names = _region_names(ctx)
    return statement


class _AlreadyCleared(Exception):
    pass


# ---- exports: CSV (UTF-8 with BOM, opens in Excel) and .xlsx, Chinese column headers ----

FLOW_HEADERS = ["参保地", "参保地名称", "就医地", "就医地名称", "参保省", "就医省", "当月笔数", "当月金额（元）",
                "调整笔数", "调整金额（元）", "应清算金额（元）"]
TRANSFER_HEADERS = ["划出省（参保省）", "名称", "划入省（就医省）", "名称", "笔数", "当月金额（元）",
                    "调整金额（元）", "划拨金额（元）"]
CITY_HEADERS = ["方向", "本地", "对方地区", "对方名称", "当月笔数", "当月金额（元）", "调整笔数", "调整金额（元）",
                "应清算金额（元）"]


def _flow_row(statement: ClearingStatement, flow: FlowAmount) -> list[Any]:
    return [flow.insuplc_admdvs, statement.name(flow.insuplc_admdvs), flow.mdtrtarea_admvs,
            statement.name(flow.mdtrtarea_admvs), flow.insured_province, flow.treatment_province,
            flow.current_count, fen_to_yuan(flow.current_fen), flow.adjustment_count,
            fen_to_yuan(flow.adjustment_fen), fen_to_yuan(flow.net_fen)]


def _transfer_row(statement: ClearingStatement, transfer: ProvinceTransfer) -> list[Any]:
    return [transfer.from_province, statement.name(transfer.from_province), transfer.to_province,
            statement.name(transfer.to_province), transfer.count, fen_to_yuan(transfer.current_fen),
            fen_to_yuan(transfer.adjustment_fen), fen_to_yuan(transfer.net_fen)]


def _city_rows(statement: ClearingStatement, city: str) -> list[list[Any]]:
    sheet = statement.city_statement(city)
    rows = []
    for direction, flows, other in (("应付（参保地）", sheet["payable"], "mdtrtarea_admvs"),
                                    ("应收（就医地）", sheet["receivable"], "insuplc_admdvs")):
        for flow in flows:
            code = getattr(flow, other)
            rows.append([direction, city, code, statement.name(code), flow.current_count,
                         fen_to_yuan(flow.current_fen), flow.adjustment_count, fen_to_yuan(flow.adjustment_fen),
                         fen_to_yuan(flow.net_fen)])
    return rows


def csv_names(statement: ClearingStatement) -> list[str]:
    """The file names export_csv writes, in its order."""
    names = [f"{statement.file_stem}.csv"]
    if statement.national:
        names.append(f"省级划拨-{statement.month}.csv")
    return names + [f"市级清算单-{statement.month}-{city}.csv" for city in statement.cities()]


def export_csv(statement: ClearingStatement, folder: Path) -> list[Path]:
    """清算单.csv, 省级划拨.csv (national statement only) and one 市级清算单-{city}.csv per city."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def write(name: str, headers: list[str], rows: list[list[Any]]) -> None:
        path = folder / name
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(headers)
            writer.writerows(rows)
        written.append(path)

    names = iter(csv_names(statement))  # one name per file written below, in the same order
    write(next(names), FLOW_HEADERS, [_flow_row(statement, f) for f in statement.flows])
    if statement.national:
        write(next(names), TRANSFER_HEADERS, [_transfer_row(statement, t) for t in statement.transfers])
    for city in statement.cities():
        write(next(names), CITY_HEADERS, _city_rows(statement, city))
    return written


def export_xlsx(statement: ClearingStatement, path: Path) -> Path:
    """One workbook: 清算单, 省级划拨 (national statement only), then one sheet per city."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheets = [("清算单", FLOW_HEADERS, [_flow_row(statement, f) for f in statement.flows])]
    if statement.national:
        sheets.append(("省级划拨", TRANSFER_HEADERS, [_transfer_row(statement, t) for t in statement.transfers]))
    sheets += [(f"{city}{statement.name(city)}"[:31], CITY_HEADERS, _city_rows(statement, city))
               for city in statement.cities()]
    workbook.remove(workbook.active)
    for title, headers, rows in sheets:
        sheet = workbook.create_sheet(title)
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        money_columns = [index for index, header in enumerate(headers) if "（元）" in header]
        for row in rows:  # yuan as exact decimals, so that Excel can add them up
            sheet.append([Decimal(value) if index in money_columns else value for index, value in enumerate(row)])
        for index in money_columns:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index + 1, max_col=index + 1):
                cell.number_format = "#,##0.00"
        for index, header in enumerate(headers, start=1):
            sheet.column_dimensions[sheet.cell(1, index).column_letter].width = max(12, len(header) * 2 + 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path
