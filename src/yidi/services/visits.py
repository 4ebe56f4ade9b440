"""Visits and fee details as the hospital interface drives them (2401/2402/2404, 2201–2208, 2301–2305).

A visit (就诊, ``mdtrt_id``) is registered by the treatment hospital, collects fee-detail rows, and is
settled through ``services.settlements`` (one paid claim per visit). Refund rows carry a negative
``cnt`` and amount and name the original row in ``init_feedetl_sn``; settlement nets them against it.
Every function is one use case in one unit of work; an institution only ever touches its own visits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yidi.adapters import hot_sql
from yidi.adapters.hot_sql import FeeRecord, PersonRecord, VisitRecord
from yidi.adapters.orm import FeeDetailRow, MessageRow, PersonRow, SettlementRow, VisitRow
from yidi.adapters.orm_fed import TreatmentSettlementRow
from yidi.domain.catalog import FeeItem, ItemSplit, split_item
from yidi.domain.coverage import MED_CLASS_OF, MedClass
from yidi.domain.errors import YidiError, invalid
from yidi.domain.policy import Catalog
from yidi.services import audit, clock, insured_side, lookups, settlements
from yidi.services.context import AppContext
from yidi.services.idempotency import TOMBSTONE, bound_context

MAX_ROWS_PER_UPLOAD = 300  # the interface's limit per 2301/2204 call
MAX_ROW_FEN = 100_000_000_00  # one row above 1 亿元 is not a real fee


@dataclass(frozen=True)
class FeeLine:
    """One parsed fee-detail row (2301/2204 ``feedetail``); money in fen."""

    feedetl_sn: str
    med_list_codg: str
    amount_fen: int
    cnt: Decimal
    pric: Decimal | None = None
    init_feedetl_sn: str | None = None
    medins_list_codg: str = ""
    name: str = ""
    fee_ocur_time: date | None = None


@dataclass(frozen=True)
class RowSplit:
    line: FeeLine
    split: ItemSplit
    price_limit_fen: int | None = None  # the catalog's unit price limit (the interface's pric_uplmt_amt)


def _visit(session: Session, fixmedins_code: str, mdtrt_id: str, *, for_update: bool = False) -> VisitRow:
    stmt = select(VisitRow).where(VisitRow.mdtrt_id == mdtrt_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None or row.fixmedins_code != fixmedins_code:  # another institution's visit does not exist for you
        raise YidiError("VISIT_NOT_FOUND", {"mdtrt_id": mdtrt_id})
    return row


# The hospital interface's hot path (2401 → 2301 → 2303 → 2304) runs the statements of adapters/hot_sql.py on
# the session's connection: no ORM unit of work, no identity map, no re-reads. What they read is handed on as
# the typed records there (VisitRecord, PersonRecord, FeeRecord), read like VisitRow / PersonRow.
def _active_fee_rows(session: Session, mdtrt_id: str) -> list[FeeRecord]:
    return [FeeRecord._make(row) for row in hot_sql.SELECT_ACTIVE_FEES.rows(session, {"mdtrt_id": mdtrt_id})]


def _fees_of(rows: list[tuple[Any, ...]], first_fee: int) -> list[FeeRecord]:
    """The fee columns of the joined rows (from index ``first_fee``); none when the visit has no active row."""
    return [FeeRecord._make(row[first_fee:]) for row in rows if row[first_fee] is not None]


def _visit_with_fees(session: Session, fixmedins_code: str, mdtrt_id: str, *,
                     for_update: bool = False) -> tuple[VisitRecord, list[FeeRecord]]:
    """The visit and its active fee rows, read in one statement (``for_update``: the visit row locked)."""
    rows = hot_sql.SELECT_VISIT_WITH_FEES[for_update].rows(session, {"mdtrt_id": mdtrt_id})
    return _found_visit(rows, fixmedins_code, mdtrt_id), _fees_of(rows, hot_sql.VISIT_SLICE.stop)


def _stay(session: Session, fixmedins_code: str, mdtrt_id: str, *,
          lock: bool = False) -> tuple[VisitRecord, PersonRecord, list[FeeRecord]]:
    """The visit, its person and its active fee rows, read in one statement; ``lock`` takes the visit row and
    the person row FOR UPDATE (which serialises this person's settlements, see settlements.settle_with_person)."""
    rows = hot_sql.SELECT_STAY[lock].rows(session, {"mdtrt_id": mdtrt_id})
    visit = _found_visit(rows, fixmedins_code, mdtrt_id)
    person = PersonRecord._make(rows[0][hot_sql.PERSON_SLICE])
    return visit, person, _fees_of(rows, hot_sql.PERSON_SLICE.stop)


def _found_visit(rows: list[tuple[Any, ...]], fixmedins_code: str, mdtrt_id: str) -> VisitRecord:
    visit = VisitRecord._make(rows[0][hot_sql.VISIT_SLICE]) if rows else None  # the visit's columns come first
    if visit is None or visit.fixmedins_code != fixmedins_code:  # another institution's visit does not exist for you
        raise YidiError("VISIT_NOT_FOUND", {"mdtrt_id": mdtrt_id})
    return visit


def _require_state(visit: VisitRow | VisitRecord, *states: str) -> None:
    if visit.state not in states:
        raise YidiError("VISIT_STATE", {"mdtrt_id": visit.mdtrt_id, "state": visit.state})


def _require_class(visit: VisitRow | VisitRecord, inpatient: bool | None) -> None:
    """Inpatient transactions (23xx) act on stays, outpatient ones (22xx) on outpatient visits."""
    if inpatient is None:
        return
    if (MED_CLASS_OF.get(visit.med_type) is MedClass.INPATIENT) != inpatient:
        raise invalid("mdtrt_id", "该就诊为" + ("门诊，请使用门诊交易（22xx）" if inpatient else "住院，请使用住院交易（23xx）"))


def _new_mdtrt_id(fixmedins_code: str) -> str:
    return f"MD{fixmedins_code}{uuid.uuid4().hex[:16].upper()}"


def register(ctx: AppContext, *, fixmedins_code: str, psn_no: str, med_type: str, begntime: date,
             insutype: str | None = None, dise_codg: str | None = None, mdtrt_cert_type: str = "02",
             emergency: bool = False, trauma_no_third_party: bool | None = None,
             actor: str = "hospital") -> VisitRecord:
    """入院办理 (2401) / 门诊挂号 (2201)."""
    if med_type not in MED_CLASS_OF:
        raise YidiError("MED_TYPE_NOT_SUPPORTED", {"med_type": med_type})
    clock.refuse_future_care(begntime=begntime)
    with ctx.unit_of_work() as session:
        lookups.institution(session, fixmedins_code)
        visit = VisitRecord(mdtrt_id=_new_mdtrt_id(fixmedins_code), psn_no=psn_no, fixmedins_code=fixmedins_code,
                            med_type=med_type, begntime=begntime, endtime=None, dise_codg=dise_codg, emergency=emergency,
                            trauma_no_third_party=trauma_no_third_party, state="registered",
                            mdtrt_cert_type=mdtrt_cert_type)
        stay = MED_CLASS_OF[med_type] is MedClass.INPATIENT
        statement = hot_sql.INSERT_VISIT_OF_PERSON[stay, bool(insutype)]
        params = visit._asdict() | ({"insutype": insutype} if insutype else {})
        lock = {"psn_no": psn_no}
        if stay:  # one open stay per person: serialise this person's admissions
            hot_sql.LOCK_PERSON.rows(session, lock)
        inserted = statement.run(session, params)
        if inserted != 1 and ctx.federation is not None and ctx.federation.admit_visitor(session, psn_no):
            # a person insured in another province: the node now holds the desk's copy of them; insert again
            if stay:
                hot_sql.LOCK_PERSON.rows(session, lock)
            inserted = statement.run(session, params)
        if inserted != 1:
            person = hot_sql.SELECT_PERSON_INSUTYPE.first(session, lock)
            if person is None:
                raise YidiError("UNKNOWN_PERSON", {"key": psn_no})
            if stay:
                _refuse_second_stay(session, psn_no, fixmedins_code)
            raise invalid("insutype", f"与参保人险种 {person[1]} 不符")
        audit.record(session, actor, "visit.register", visit.mdtrt_id, {"med_type": med_type})
        return visit  # what was written, read like a VisitRow


def _refuse_second_stay(session: Session, psn_no: str, fixmedins_code: str) -> None:
    """已有在院记录: the person has a stay that is neither discharged, settled nor cancelled (read only when the
    admission was not inserted, to say why)."""
    found = hot_sql.SELECT_OPEN_STAY.first(session, {"psn_no": psn_no})
    if found is not None:
        stay = hot_sql.OpenStay._make(found)
        where = f"本院就诊ID {stay.mdtrt_id}" if stay.fixmedins_code == fixmedins_code else "在其他定点医药机构"
        raise YidiError("ALREADY_ADMITTED", {"psn_no": psn_no, "begntime": stay.begntime, "where": where})


def update_info(ctx: AppContext, *, fixmedins_code: str, mdtrt_id: str, med_type: str | None = None,
                dise_codg: str | None = None, begntime: date | None = None,
                trauma_no_third_party: bool | None = None, actor: str = "hospital") -> VisitRow:
    """门诊就诊信息上传 (2203): med_type, diagnosis."""
    if med_type is not None and med_type not in MED_CLASS_OF:
        raise YidiError("MED_TYPE_NOT_SUPPORTED", {"med_type": med_type})
    clock.refuse_future_care(begntime=begntime)
    with ctx.unit_of_work() as session:
        visit = _visit(session, fixmedins_code, mdtrt_id, for_update=True)
        _require_state(visit, "registered", "discharged")
        if med_type is not None:
            visit.med_type = med_type
        if dise_codg is not None:
            visit.dise_codg = dise_codg
        if begntime is not None:
            visit.begntime = begntime
        if trauma_no_third_party is not None:
            visit.trauma_no_third_party = trauma_no_third_party
        audit.record(session, actor, "visit.info", mdtrt_id, {"med_type": visit.med_type})
        return visit


def discharge(ctx: AppContext, *, fixmedins_code: str, mdtrt_id: str, endtime: date, dise_codg: str | None = None,
              actor: str = "hospital") -> VisitRow:
    """出院办理 (2402): the stay's end date (used by 2303/2304 when they do not carry one)."""
    clock.refuse_future_care(endtime=endtime)  # a discharge is recorded when it happens, not ahead of it
    with ctx.unit_of_work() as session:
        visit = _visit(session, fixmedins_code, mdtrt_id, for_update=True)
        _require_state(visit, "registered", "discharged", "settled")
        if endtime < visit.begntime:
            raise invalid("endtime", "出院日期早于入院日期")
        visit.endtime = endtime
        if dise_codg:
            visit.dise_codg = dise_codg
        if visit.state == "registered":
            visit.state = "discharged"
        audit.record(session, actor, "visit.discharge", mdtrt_id, {"endtime": endtime})
        return visit


def cancel_registration(ctx: AppContext, *, fixmedins_code: str, mdtrt_id: str, inpatient: bool | None = None,
                        actor: str = "hospital") -> VisitRow:
    """入院撤销 (2404) / 挂号撤销 (2202): only while nothing is settled; its fee rows go with it."""
    with ctx.unit_of_work() as session:
        visit = _visit(session, fixmedins_code, mdtrt_id, for_update=True)
        _require_class(visit, inpatient)
        _require_state(visit, "registered", "discharged")
        visit.state = "cancelled"
        session.execute(update(FeeDetailRow).where(FeeDetailRow.mdtrt_id == mdtrt_id).values(active=False))
        audit.record(session, actor, "visit.cancel", mdtrt_id, {})
        return visit


def _mapped(session: Session, fixmedins_code: str, lines: list[FeeLine]) -> list[FeeLine]:
    """Rows sent with only the hospital's own item code get the catalog code from its 医保目录对照
    (`yidi import mappings`); a row with neither is refused naming the field."""
    from dataclasses import replace

    from yidi.adapters.orm_mapping import ItemMappingRow

    wanted = {line.medins_list_codg for line in lines if not line.med_list_codg and line.medins_list_codg}
    known: dict[str, str] = {}
    if wanted:
        stmt = select(ItemMappingRow.medins_list_codg, ItemMappingRow.med_list_codg).where(
            ItemMappingRow.fixmedins_code == fixmedins_code, ItemMappingRow.medins_list_codg.in_(sorted(wanted)))
        known = {own: code for own, code in session.execute(stmt).all()}
    resolved = []
    for index, line in enumerate(lines):
        if not line.med_list_codg:
            code = known.get(line.medins_list_codg)
            if code is None:
                raise invalid(f"feedetail[{index}].med_list_codg",
                              f"缺少医保目录编码，且本院项目编码“{line.medins_list_codg}”未维护目录对照")
            line = replace(line, med_list_codg=code)
        resolved.append(line)
    return resolved


def upload_fees(ctx: AppContext, *, fixmedins_code: str, mdtrt_id: str, inpatient: bool | None = None,
                lines: list[FeeLine], admdvs: str | None = None, actor: str = "hospital") -> list[RowSplit]:
    """费用明细上传 (2301 / 2204): at most 300 rows; each row split by the treatment region's catalog (S1).
    ``admdvs`` = the institution's region when the caller already knows it (the interface does)."""
    if len(lines) > MAX_ROWS_PER_UPLOAD:
        raise YidiError("TOO_MANY_ROWS", {"rows": len(lines), "limit": MAX_ROWS_PER_UPLOAD})
    if not lines:
        raise invalid("feedetail", "没有费用明细")
    with ctx.unit_of_work() as session:
        visit, fee_rows = _visit_with_fees(session, fixmedins_code, mdtrt_id, for_update=True)
        _require_class(visit, inpatient)
        _require_state(visit, "registered", "discharged")
        admdvs = admdvs or lookups.institution(session, fixmedins_code).admdvs
        if any(not line.med_list_codg for line in lines):
            lines = _mapped(session, fixmedins_code, lines)
        existing = {row.feedetl_sn: row for row in fee_rows}
        refunded: dict[str, tuple[int, Decimal]] = {}
        for row in existing.values():
            if row.init_feedetl_sn:
                amount, cnt = refunded.get(row.init_feedetl_sn, (0, Decimal(0)))
                refunded[row.init_feedetl_sn] = (amount + row.det_item_fee_sumamt_fen, cnt + Decimal(row.cnt))
        batch: dict[str, FeeLine] = {}
        for index, line in enumerate(lines):
            where = f"feedetail[{index}]"
            if line.feedetl_sn in existing or line.feedetl_sn in batch:
                raise invalid(f"{where}.feedetl_sn", f"明细流水号 {line.feedetl_sn} 重复")
            if line.init_feedetl_sn:
                original = existing.get(line.init_feedetl_sn)
                if original is None and line.init_feedetl_sn in batch:
                    original_amount, original_cnt = batch[line.init_feedetl_sn].amount_fen, batch[line.init_feedetl_sn].cnt
                    original_code = batch[line.init_feedetl_sn].med_list_codg
                elif original is not None and not original.init_feedetl_sn:
                    original_amount, original_cnt = original.det_item_fee_sumamt_fen, Decimal(original.cnt)
                    original_code = original.med_list_codg
                else:
                    raise invalid(f"{where}.init_feedetl_sn", f"原明细 {line.init_feedetl_sn} 不存在")
                if line.med_list_codg != original_code:
                    raise invalid(f"{where}.med_list_codg", "退费明细的项目编码应与原明细一致")
                amount, cnt = refunded.get(line.init_feedetl_sn, (0, Decimal(0)))
                amount, cnt = amount + line.amount_fen, cnt + line.cnt
                if original_amount + amount < 0 or original_cnt + cnt < 0:
                    raise invalid(f"{where}.det_item_fee_sumamt", "退费金额或数量超过原明细")
                refunded[line.init_feedetl_sn] = (amount, cnt)
            batch[line.feedetl_sn] = line
        out = []
        rows = []
        for line in lines:
            on = line.fee_ocur_time or visit.begntime
            catalog = ctx.policy.catalog(admdvs, on)
            entry = catalog.items.get(line.med_list_codg) if catalog else None
            out.append(RowSplit(line, _split(line, catalog), entry.price_limit if entry else None))
            rows.append(dict(
                mdtrt_id=mdtrt_id, feedetl_sn=line.feedetl_sn, init_feedetl_sn=line.init_feedetl_sn,
                med_list_codg=line.med_list_codg, name=line.name[:100], cnt=str(line.cnt),
                pric_fen=_exact_fen(line.pric), det_item_fee_sumamt_fen=line.amount_fen,
                fee_ocur_time=line.fee_ocur_time, active=True))
        if hot_sql.on_postgresql(session):  # one statement whatever the number of rows, queued with the call's writes
            hot_sql.INSERT_FEE_LINES.queue(session, {"mdtrt_id": mdtrt_id, **{key: [row[key] for row in rows]
                                                                               for key in hot_sql.FEE_KEYS[1:]}})
        else:
            hot_sql.INSERT_FEES.run_many(session, rows)
        audit.record(session, actor, "visit.fees", mdtrt_id, {"rows": len(lines)})
        return out


def _split(line: FeeLine, catalog: Catalog | None) -> ItemSplit:
    """Per-row split; a refund row is split like its positive mirror and shown negative."""
    sign = -1 if line.amount_fen < 0 else 1
    qty = abs(line.cnt) if line.cnt else Decimal(1)
    split = split_item(FeeItem(line.med_list_codg, abs(line.amount_fen), qty, None, line.name), catalog)
    if sign > 0:
        return split
    return ItemSplit(split.code, split.name, -split.amount_fen, split.chrgitm_lv, split.selfpay_prop_bp,
                     split.med_chrgitm_type, split.special_drug, -split.fulamt_ownpay_fen, -split.overlmt_fen,
                     -split.preselfpay_fen, -split.inscp_fen)


def _exact_fen(pric: Decimal | None) -> int | None:
    if pric is None:
        return None
    fen = pric * 100
    return int(fen) if fen == fen.to_integral_value() else None  # sub-fen unit prices: the row amount rules


def _active_rows(session: Session, mdtrt_id: str) -> list[FeeDetailRow]:
    return list(session.scalars(select(FeeDetailRow).where(FeeDetailRow.mdtrt_id == mdtrt_id,
                                                          FeeDetailRow.active.is_(True)).order_by(FeeDetailRow.id)))


def revoke_fees(ctx: AppContext, *, fixmedins_code: str, mdtrt_id: str, inpatient: bool | None = None, feedetl_sns: list[str] | None = None,
                actor: str = "hospital") -> int:
    """费用明细撤销 (2302 / 2205): the named rows (or all when none are named) stop counting."""
    with ctx.unit_of_work() as session:
        visit = _visit(session, fixmedins_code, mdtrt_id, for_update=True)
        _require_class(visit, inpatient)
        _require_state(visit, "registered", "discharged")
        rows = _active_rows(session, mdtrt_id)
        if feedetl_sns:
            known = {row.feedetl_sn for row in rows}
            for index, sn in enumerate(feedetl_sns):
                if sn not in known:
                    raise invalid(f"data[{index}].feedetl_sn", f"明细 {sn} 不存在或已撤销")
            chosen = set(feedetl_sns)
            # a refund row goes with its original, otherwise the refund would stand alone
            chosen |= {row.feedetl_sn for row in rows if row.init_feedetl_sn in chosen}
            rows = [row for row in rows if row.feedetl_sn in chosen]
        for row in rows:
            row.active = False
        audit.record(session, actor, "visit.fees_revoked", mdtrt_id, {"rows": len(rows)})
        return len(rows)


def settle_items(session: Session, mdtrt_id: str) -> tuple[FeeItem, ...]:
    """The visit's fee items for settlement: refunds netted into their original rows."""
    return _net_items(_active_fee_rows(session, mdtrt_id))


def _net_items(rows: Iterable[FeeRecord]) -> tuple[FeeItem, ...]:
    net: dict[str, tuple[str, int, Decimal, str]] = {}  # original row → code, amount, count, name
    for row in rows:
        key = row.init_feedetl_sn or row.feedetl_sn
        code, amount, cnt, name = net.get(key, (row.med_list_codg, 0, Decimal(0), row.name))
        net[key] = (code, amount + row.det_item_fee_sumamt_fen, cnt + Decimal(row.cnt), name)
    return tuple(FeeItem(code, amount, cnt if cnt > 0 else Decimal(1), None, name)
                 for code, amount, cnt, name in net.values() if amount > 0)


def _command(fee_rows: list[FeeRecord], visit: VisitRecord, *, endtime: date | None, medfee_sumamt_fen: int | None,
             kind: str, msgid: str | None, actor: str, use_account: bool = False) -> settlements.SettleCommand:
    items = _net_items(fee_rows)
    if not items:
        raise invalid("feedetail", "本次就诊没有有效的费用明细，请先上传费用（2301/2204）")
    if medfee_sumamt_fen is not None and medfee_sumamt_fen != sum(item.amount_fen for item in items):
        raise invalid("medfee_sumamt", "与已上传费用明细合计不符，请核对明细后重新上传")
    inpatient = MED_CLASS_OF.get(visit.med_type) is MedClass.INPATIENT
    end = endtime or visit.endtime or (None if inpatient else visit.begntime)
    if end is None:
        raise invalid("endtime", "住院结算需先办理出院（2402）或在入参中填写 endtime")
    return settlements.SettleCommand(
        psn_no=visit.psn_no, fixmedins_code=visit.fixmedins_code, med_type=visit.med_type, begntime=visit.begntime,
        endtime=end, items=items, dise_codg=visit.dise_codg, emergency=visit.emergency,
        trauma_no_third_party=visit.trauma_no_third_party, kind=kind, mdtrt_id=visit.mdtrt_id, msgid=msgid,
        actor=actor, use_account=use_account)


@dataclass
class SettleOutcome:
    visit: VisitRecord
    person: settlements.InsuredPerson  # a PersonRecord; a federation node answers with a record read alike
    fields: dict[str, Any]  # yuan strings (settlements.result_fields / row fields)
    setl_id: str | None = None


def presettle(ctx: AppContext, *, fixmedins_code: str, mdtrt_id: str, inpatient: bool | None = None, endtime: date | None = None,
              medfee_sumamt_fen: int | None = None, actor: str = "hospital", use_account: bool = False) -> SettleOutcome:
    """预结算 (2303 / 2206): the full calculation; nothing is written (S3)."""
    with ctx.unit_of_work() as session:
        visit, person, fee_rows = _stay(session, fixmedins_code, mdtrt_id)
        _require_class(visit, inpatient)
        _require_state(visit, "registered", "discharged")
        cmd = _command(fee_rows, visit, endtime=endtime, medfee_sumamt_fen=medfee_sumamt_fen, kind="direct",
                       msgid=None, actor=actor, use_account=use_account)
        side = insured_side.for_region(ctx, person.insuplc_admdvs)
        fields, person = side.presettle(bound_context(ctx, session), cmd, person)
        fields["_endtime"] = cmd.endtime
        return SettleOutcome(visit, person, fields)


def settle(ctx: AppContext, *, fixmedins_code: str, mdtrt_id: str, inpatient: bool | None = None, endtime: date | None = None,
           medfee_sumamt_fen: int | None = None, msgid: str | None = None, kind: str = "direct",
           actor: str = "hospital", use_account: bool = False) -> SettleOutcome:
    """结算 (2304 / 2207) or 线上零星报销 of an uploaded visit (kind=manual): writes settlement, usage, ledger."""
    with ctx.unit_of_work() as session:
        visit, person, fee_rows = _stay(session, fixmedins_code, mdtrt_id, lock=True)
        _require_class(visit, inpatient)
        paid = None
        if visit.state == "settled":
            paid = settlement_of_visit(session, mdtrt_id) or insured_side.remote_paid_of_visit(ctx, session, mdtrt_id)
        if paid is not None:  # one paid claim per visit, direct or manual (S4, V3)
            raise YidiError("DUPLICATE_CLAIM", {"setl_id": paid.setl_id})
        _require_state(visit, "registered", "discharged")
        cmd = _command(fee_rows, visit, endtime=endtime, medfee_sumamt_fen=medfee_sumamt_fen, kind=kind,
                       msgid=msgid, actor=actor, use_account=use_account)
        side = insured_side.for_region(ctx, person.insuplc_admdvs)
        view, person = side.settle(bound_context(ctx, session), cmd, person)
        visit = visit._replace(state="settled", endtime=visit.endtime or cmd.endtime)  # as the UPDATE writes it
        hot_sql.MARK_SETTLED.queue(session, {"v_mdtrt_id": mdtrt_id, "v_endtime": visit.endtime})
        fields = dict(view.row_fields)
        fields["_endtime"] = cmd.endtime
        return SettleOutcome(visit, person, fields, view.setl_id)


def claim_command(ctx: AppContext, *, mdtrt_id: str, endtime: date | None, actor: str) -> settlements.SettleCommand:
    """The 零星报销 of an uploaded visit as a settlement command (its fee lines as they stand now); writes nothing.
    A visit already settled is DUPLICATE_CLAIM."""
    with ctx.unit_of_work() as session:
        found = session.get(VisitRow, mdtrt_id)
        if found is None:
            raise YidiError("VISIT_NOT_FOUND", {"mdtrt_id": mdtrt_id})
        visit, _person, fee_rows = _stay(session, found.fixmedins_code, mdtrt_id)
        if visit.state == "settled" and (paid := settlement_of_visit(session, mdtrt_id)
                                         or insured_side.remote_paid_of_visit(ctx, session, mdtrt_id)) is not None:
            raise YidiError("DUPLICATE_CLAIM", {"setl_id": paid.setl_id})  # a visitor's: this node's side of it
        _require_state(visit, "registered", "discharged")
        return _command(fee_rows, visit, endtime=endtime, medfee_sumamt_fen=None, kind="manual", msgid=None,
                        actor=actor)


def cancel_settlement(ctx: AppContext, *, fixmedins_code: str, mdtrt_id: str | None, setl_id: str,
                      reversal: bool = False, inpatient: bool | None = None,
                      actor: str = "hospital") -> SettlementRow | TreatmentSettlementRow:
    """结算撤销 (2305 / 2208) and 冲正 of a settlement: reversed exactly once; the visit may be settled again.
    The row is this node's settlement, or on a federation node its side of a cross-province one."""
    with ctx.unit_of_work() as session:
        row: SettlementRow | TreatmentSettlementRow | None = insured_side.settlement_record(ctx, session, setl_id)
        if row is None or row.fixmedins_code != fixmedins_code or (mdtrt_id and row.mdtrt_id != mdtrt_id):
            raise YidiError("SETTLEMENT_NOT_FOUND", {"setl_id": setl_id})
        if inpatient is not None and (MED_CLASS_OF.get(row.med_type) is MedClass.INPATIENT) != inpatient:
            raise invalid("setl_id", "结算类别（门诊/住院）与交易不符")
        if row.mdtrt_id:  # the visit first, as a settlement of it locks it (visit → person → settlement)
            session.execute(select(VisitRow.mdtrt_id).where(VisitRow.mdtrt_id == row.mdtrt_id).with_for_update())
        insured_side.for_region(ctx, row.insuplc_admdvs).cancel(bound_context(ctx, session), row, on=None,
                                                                reversal=reversal, actor=actor)
        if row.mdtrt_id:
            visit = session.get(VisitRow, row.mdtrt_id)
            if visit is not None and visit.state == "settled":
                inpatient = MED_CLASS_OF.get(visit.med_type) is MedClass.INPATIENT
                visit.state = "discharged" if inpatient and visit.endtime else "registered"
        return row


@dataclass(frozen=True)
class ReversedParties:
    """What a reversed settlement's refund slip (2305/2208) shows of the person as they stand now (the account
    balance after the refund) and of the visit."""

    psn_no: str
    name: str
    certno: str
    insutype: str
    insuplc_admdvs: str
    acct_balc: int  # fen
    mdtrt_cert_type: str  # the visit's certificate type ("02" when the settlement has no visit here)


def reversed_parties(ctx: AppContext, *, psn_no: str, mdtrt_id: str | None) -> ReversedParties:
    """The person and the visit of a settlement just reversed (read in the caller's transaction when run
    under ``bound_context``, so the balance includes the refund)."""
    with ctx.unit_of_work() as session:
        person = session.get(PersonRow, psn_no)
        visit = session.get(VisitRow, mdtrt_id) if mdtrt_id else None
        if person is None:  # a settlement names a person of this node (foreign key); never seen, but not a 500
            raise YidiError("NOT_FOUND", {"what": "参保人", "key": psn_no})
        return ReversedParties(person.psn_no, person.name, person.certno, person.insutype, person.insuplc_admdvs,
                               person.acct_balc, visit.mdtrt_cert_type if visit else "02")


def settlement_of_visit(session: Session, mdtrt_id: str) -> SettlementRow | None:
    return session.scalars(select(SettlementRow).where(SettlementRow.mdtrt_id == mdtrt_id,
                                                       SettlementRow.status == "settled")).first()



def reverse_message(ctx: AppContext, *, fixmedins_code: str, omsgid: str, oinfno: str,
                    actor: str = "hospital", psn_no: str = "") -> dict[str, str]:
    """冲正 (2601): undo what message ``omsgid`` did, exactly once, and always safe to send.

    - the original was processed: its effect is reversed (settlement → status reversed, usage given back,
      mirror ledger entry; registration → cancelled; fee upload → its rows revoked) and marked reversed;
    - already reversed: nothing happens again;
    - the original never arrived (or was lost before commit): a tombstone takes its msgid, so a late
      copy is refused (MESSAGE_REVERSED) instead of taking effect. On a federation node a settlement message
      (2304/2207) of a person insured elsewhere is also reversed at their insured node, which may have committed
      it before this node failed (``insured_side.reverse_unrecorded``); ``psn_no`` names the person when given.
    """
    with ctx.unit_of_work() as session:
        row = session.scalars(select(MessageRow).where(MessageRow.msgid == omsgid).with_for_update()).first()
        if row is None:
            effect = "never_processed"
            if oinfno in ("2304", "2207"):
                effect = insured_side.reverse_unrecorded(bound_context(ctx, session), omsgid=omsgid, psn_no=psn_no,
                                                         fixmedins_code=fixmedins_code, actor=actor) or effect
            session.add(MessageRow(msgid=omsgid, fixmedins_code=fixmedins_code, infno=oinfno, body_sha256=TOMBSTONE,
                                   response={}, reversed=True))
            session.flush()
            audit.record(session, actor, "message.reversal", omsgid, {"effect": effect})
            return {"omsgid": omsgid, "oinfno": oinfno, "rslt": effect}
        if row.fixmedins_code != fixmedins_code:
            raise invalid("omsgid", "不是本机构的报文")
        if row.infno != oinfno:
            raise invalid("oinfno", f"与原报文的交易编号 {row.infno} 不符")
        if row.reversed:
            return {"omsgid": omsgid, "oinfno": oinfno, "rslt": "already_reversed"}
        output = (row.response or {}).get("output") or {}
        bound = bound_context(ctx, session)
        if oinfno in ("2304", "2207", "2102"):  # 2102: a pharmacy's 特药 settlement (services/pharmacy.py)
            setl_id = output["setlinfo"]["setl_id"]
            settlement = insured_side.settlement_record(ctx, session, setl_id)
            if settlement is not None and settlement.status == "settled":
                cancel_settlement(bound, fixmedins_code=fixmedins_code, mdtrt_id=None, setl_id=setl_id,
                                  reversal=True, actor=actor)
        elif oinfno in ("2401", "2201"):
            mdtrt_id = (output.get("result") or output.get("data") or {})["mdtrt_id"]
            visit = session.get(VisitRow, mdtrt_id)
            if visit is not None and visit.state != "cancelled":
                cancel_registration(bound, fixmedins_code=fixmedins_code, mdtrt_id=mdtrt_id, actor=actor)
        elif oinfno in ("2301", "2204"):
            sns = [entry["feedetl_sn"] for entry in output.get("result", [])]
            mdtrt_id = output.get("mdtrt_id")
            active = {r.feedetl_sn for r in _active_rows(session, mdtrt_id)} if mdtrt_id else set()
            still = [sn for sn in sns if sn in active]
            if still and mdtrt_id:  # (rows are still active only when the upload named its visit)
                revoke_fees(bound, fixmedins_code=fixmedins_code, mdtrt_id=mdtrt_id, feedetl_sns=still, actor=actor)
        else:
            raise invalid("oinfno", f"交易 {oinfno} 不支持冲正（支持 2102/2201/2204/2207/2301/2304/2401）")
        row.reversed = True
        audit.record(session, actor, "message.reversal", omsgid, {"oinfno": oinfno})
        return {"omsgid": omsgid, "oinfno": oinfno, "rslt": "reversed"}
