"""Settlement use cases (S2–S4, B1–B13): settle, pre-settle, manual claim, cancel/冲正, estimate.

``settle`` is one transaction: lock the person, refuse a second claim for the same visit, compute
with year-to-date usage, write the settlement, the usage and the ledger entry together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from types import SimpleNamespace
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yidi.adapters import hot_sql
from yidi.adapters.hot_sql import FilingRecord, PersonRecord
from yidi.adapters.orm import SettlementRow, UsageRow
from yidi.domain.account import pay_from_account
from yidi.domain.benefit import BenefitResult, calculate, cap_key_for
from yidi.domain.catalog import FeeItem
from yidi.domain.coverage import MED_CLASS_OF, Coverage, MedClass, Visit, resolve_coverage
from yidi.domain.errors import YidiError, invalid
from yidi.domain.filing import Filing
from yidi.domain.money import Fen, MoneyFormatError, fen_to_yuan, yuan_to_fen
from yidi.domain.special_drugs import Dispensing, check_dispensing
from yidi.services import audit, clock, ledger, lookups, pharmacy_facts
from yidi.services.context import AppContext
from yidi.services.filings import to_domain
from yidi.services.lookups import Institution
from yidi.services.reference import get_institution, get_person


@dataclass(frozen=True)
class SettleCommand:
    psn_no: str
    fixmedins_code: str
    med_type: str
    begntime: date
    endtime: date
    items: tuple[FeeItem, ...]
    dise_codg: str | None = None
    emergency: bool = False
    trauma_no_third_party: bool | None = None
    kind: str = "direct"  # direct (直接结算) / manual (零星报销, S4)
    use_account: bool = False  # interface acct_used_flag = 1: pay the person's share from the 个人账户 (B9)
    mdtrt_id: str | None = None
    msgid: str | None = None
    actor: str = "system"
    extra: dict[str, Any] = field(default_factory=dict)
    # The settlement's own date: None = today by the server clock (every edge: /fsi, /api, pages). Only code
    # that replays history on purpose (tests, data loads) passes a date; dates of care may not lie after it.
    setl_date: date | None = None


@dataclass(frozen=True)
class SettlementView:
    setl_id: str
    status: str
    kind: str
    psn_no: str
    fixmedins_code: str
    med_type: str
    begntime: date
    endtime: date
    result: BenefitResult | None
    row_fields: dict[str, Any]

    def to_result(self) -> dict[str, Any]:
        fields = dict(self.row_fields)
        fields["setl_id"] = self.setl_id
        fields["status"] = self.status
        return fields


def _decimal_yuan(value: object) -> Decimal:
    """A unit price in yuan as an exact Decimal (floats through repr, as yuan_to_fen does)."""
    if isinstance(value, bool):
        raise MoneyFormatError(f"不是金额: {value!r}")
    try:
        price = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise MoneyFormatError(f"不是金额: {value!r}") from exc
    if not price.is_finite() or price < 0:
        raise MoneyFormatError(f"单价应为非负数: {value!r}")
    return price


def _half_up_fen(yuan: Decimal) -> Fen:
    return int((yuan * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_items(raw: object) -> tuple[FeeItem, ...]:
    """Fee lines as the edges send them: ``{code, amount}`` or ``{code, qty, price}`` (yuan) → FeeItem (fen)."""
    if not isinstance(raw, list) or not raw:
        raise invalid("items", "应为非空列表")
    items = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict) or "code" not in entry:
            raise invalid(f"items[{index}]", "每条明细需有 code 和 amount（或 qty 与 price）")
        unknown = set(entry) - {"code", "amount", "qty", "price", "name"}
        if unknown:
            raise invalid(f"items[{index}]", f"未知的键 {sorted(unknown)}")
        try:
            if "amount" in entry:
                amount = yuan_to_fen(entry["amount"])
                qty = Decimal(str(entry.get("qty", 1)))
                price = yuan_to_fen(entry["price"]) if "price" in entry else None
            elif "qty" in entry and "price" in entry:
                # The line amount is price × qty rounded half-up to the fen, like HIS det_item_fee_sumamt
                # (baseline: "round half-up to the fen at each step"); 0.5 × 33.33 = 16.665 → 16.67.
                # A unit price may carry more than two decimals (医保目录 prices often have four).
                qty = Decimal(str(entry["qty"]))
                try:
                    price_yuan = _decimal_yuan(entry["price"])
                except MoneyFormatError as exc:
                    raise invalid(f"items[{index}].price", str(exc)) from None
                amount = _half_up_fen(price_yuan * qty)
                price = _half_up_fen(price_yuan)
            else:
                raise invalid(f"items[{index}]", "需有 amount，或 qty 与 price")
        except (MoneyFormatError, InvalidOperation) as exc:
            raise invalid(f"items[{index}].amount", str(exc)) from None
        if not qty.is_finite() or qty <= 0:
            raise invalid(f"items[{index}].qty", "数量必须为正数")
        items.append(FeeItem(code=str(entry["code"]), amount_fen=amount, qty=qty, price_fen=price))
    return tuple(items)


def visit_key(cmd: SettleCommand) -> str:
    """One visit = one paid claim (S4, V3), whatever its fee lines: a stay is keyed by person, institution and
    admission; an outpatient visit by person, institution, date and visit type (med_type; for 门诊慢特病 the
    disease, which has its own limit). The database's unique index holds it under concurrency;
    the paid-claim check (adapters/hot_sql.py ``_SAME_VISIT``) also catches a stay overlapping a paid one (docs/policy-readings.md B-R14)."""
    med_class = MED_CLASS_OF.get(cmd.med_type)
    base = f"{cmd.psn_no}|{cmd.fixmedins_code}|{med_class}|{cmd.begntime.isoformat()}"
    if med_class is MedClass.INPATIENT:
        return base
    disease = cmd.dise_codg or "" if med_class is MedClass.CHRONIC else ""
    return f"{base}|{cmd.med_type}|{disease}"


def same_visit_params(cmd: SettleCommand) -> dict[str, Any]:
    """The bind parameters of the paid-claim-of-this-visit check (adapters/hot_sql.py ``_SAME_VISIT``): the stay's
    dates (a paid stay overlapping them is the same stay), or the outpatient visit's date and type."""
    med_class = MED_CLASS_OF.get(cmd.med_type)
    inpatient = med_class is MedClass.INPATIENT
    return {"v_psn_no": cmd.psn_no, "v_fixmedins_code": cmd.fixmedins_code, "v_inpatient": 1 if inpatient else 0,
            "v_med_type": cmd.med_type, "v_begn": cmd.begntime, "v_end": cmd.endtime if inpatient else cmd.begntime,
            "v_any_dise": 0 if med_class is MedClass.CHRONIC else 1, "v_dise": cmd.dise_codg or ""}


SUPPORTED_MED_TYPES = "11 普通门诊、14 门诊慢特病、15 特药、21 普通住院、22 外伤住院、23 转外诊治住院"


def validate(cmd: SettleCommand) -> None:
    """The command's own checks (fields, dates, amounts), before anything is read."""
    _validate(cmd)


def paid_claim_of_visit(session: Session, key: str) -> str | None:
    """The settled claim of the visit ``key`` (visit_key), if any."""
    row = hot_sql.SELECT_PAID.first(session, {"visit_key": key})
    return None if row is None else str(row[0])


def _validate(cmd: SettleCommand) -> None:
    # An unsupported med_type is an out-of-range field (INVALID_INPUT names it), as scenarios.md fixes.
    if cmd.med_type not in MED_CLASS_OF:
        raise invalid("med_type", f"医疗类别 {cmd.med_type} 不支持异地直接结算，应为 {SUPPORTED_MED_TYPES} 之一")
    if cmd.endtime < cmd.begntime:
        raise invalid("endtime", "出院（结束）日期早于入院（开始）日期")
    clock.refuse_future_care(on=cmd.setl_date, endtime=cmd.endtime, begntime=cmd.begntime)
    if not cmd.items:
        raise invalid("items", "没有费用明细")
    for index, item in enumerate(cmd.items):
        if item.amount_fen < 0:
            raise invalid(f"items[{index}].amount", "金额不能为负数")
        if item.amount_fen > 100_000_000_00:
            raise invalid(f"items[{index}].amount", "金额超出合理范围")
    if MED_CLASS_OF[cmd.med_type] is MedClass.CHRONIC and not cmd.dise_codg:
        raise invalid("dise_codg", "门诊慢特病需填写病种编码")
    if cmd.med_type == "22" and cmd.trauma_no_third_party is False:
        # B8: only no-third-party trauma settles directly. A declared third party is refused; an absent
        # flag settles and is flagged for the treatment region's review (docs/policy-readings.md B-R10).
        raise invalid("trauma_no_third_party", "外伤住院（22）需确认无第三方责任（true）方可直接结算；"
                                               "有第三方责任的费用由责任方承担或回参保地手工报销")


def _used(session: Session, psn_no: str, year: int, cap_key: str, for_update: bool = False) -> UsageRow | None:
    stmt = select(UsageRow).where(UsageRow.psn_no == psn_no, UsageRow.year == year, UsageRow.cap_key == cap_key)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


# The settlement path runs on every 2303/2304: its statements live in adapters/hot_sql.py (built once, run on the
# session's connection without the ORM unit of work); what they read comes back as the typed records there.
PERSON_KEYS = PersonRecord._fields  # what the settlement and the interface's answer need of a person


class InsuredPerson(Protocol):
    """What a settlement reads of a person (PERSON_KEYS): a PersonRecord, a PersonRow, or the copy a federation
    node decodes from another node's answer (federation/messages.py)."""

    @property
    def psn_no(self) -> str: ...
    @property
    def certno(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def insuplc_admdvs(self) -> str: ...
    @property
    def insutype(self) -> str: ...
    @property
    def insu_status(self) -> str: ...
    @property
    def acct_balc(self) -> int: ...


class SettlementFields(ledger.SettlementForLedger, Protocol):
    """What a settlement's view reads of its row (``_view``): a SettlementRow, or the values ``_write`` has just
    inserted (read like one)."""

    @property
    def setl_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def med_type(self) -> str: ...
    @property
    def begntime(self) -> date: ...
    @property
    def endtime(self) -> date: ...
    @property
    def psn_part_amt(self) -> int: ...
    @property
    def ratio_bp(self) -> int: ...
    @property
    def policy_version(self) -> str: ...
    @property
    def catalog_version(self) -> str: ...
    @property
    def coverage_context(self) -> str: ...
    @property
    def filing_id(self) -> str | None: ...
    @property
    def review_flag(self) -> str: ...
    @property
    def trace(self) -> list[Any]: ...


def _with_balance(person: InsuredPerson, acct_balc: int) -> PersonRecord:
    """The person's PersonRecord as it stands after the settlement (the interface shows the new balance)."""
    return PersonRecord(*(getattr(person, key) for key in PERSON_KEYS))._replace(acct_balc=acct_balc)


def person_row(session: Session, psn_no: str, *, for_update: bool = False) -> PersonRecord:
    """The person's PersonRecord (attribute access like PersonRow); UNKNOWN_PERSON when absent."""
    row = hot_sql.SELECT_PERSON[for_update].first(session, {"psn_no": psn_no})
    if row is None:
        raise YidiError("UNKNOWN_PERSON", {"key": psn_no})
    return PersonRecord._make(row)


@dataclass(frozen=True)
class _PersonFacts:
    filings: list[Filing]
    used_fen: int | None  # year-to-date usage of the cap; None = no usage row yet
    paid_setl_id: str | None = None  # the paid claim of this visit (settle only)
    dispensing: Dispensing | None = None  # 特药 (med_type 15) only: recognitions, 双通道 designations (B11)


def _person_facts(session: Session, cmd: SettleCommand, psn_no: str, same_visit: bool = False) -> _PersonFacts:
    """Filings, usage (and with ``same_visit`` the paid claim of this visit) in one statement."""
    params: dict[str, Any] = {"psn_no": psn_no, "year": cmd.endtime.year,
                              "cap_key": str(cap_key_for(cmd.med_type, cmd.dise_codg))}
    if same_visit:
        params |= same_visit_params(cmd)
    rows = hot_sql.SELECT_PERSON_FACTS[same_visit].rows(session, params)
    first = rows[0]
    filings = [to_domain(FilingRecord._make(row[hot_sql.FILING_SLICE])) for row in rows
               if row[hot_sql.FILING_SLICE.start] is not None]
    dispensing = None
    if MED_CLASS_OF.get(cmd.med_type) is MedClass.SPECIAL_DRUG:  # B11: read only for 特药 settlements
        dispensing = pharmacy_facts.dispensing(session, cmd, psn_no)
    return _PersonFacts(filings=filings, used_fen=first[0], paid_setl_id=first[-1] if same_visit else None,
                        dispensing=dispensing)


def _with_trauma_flag(coverage: Coverage, cmd: SettleCommand) -> Coverage:
    """B8: no-third-party trauma settles directly under the usual coverage, flagged for the agency's review."""
    if not (cmd.trauma_no_third_party or cmd.med_type == "22"):
        return coverage
    return replace(coverage, rules=(*coverage.rules, "B8"),
                   notes=(*coverage.notes, "无第三方责任外伤：直接结算，并纳入就医地经办机构核查范围 (B8)"))


def compute(ctx: AppContext, session: Session, cmd: SettleCommand, person: InsuredPerson,
            institution: Institution) -> tuple[BenefitResult, Coverage]:
    """Coverage + calculation inside an open transaction; writes nothing."""
    return _compute(ctx, cmd, person, institution, _person_facts(session, cmd, person.psn_no))


def _compute(ctx: AppContext, cmd: SettleCommand, person: InsuredPerson, institution: Institution,
             facts: _PersonFacts) -> tuple[BenefitResult, Coverage]:
    """Coverage + calculation from what was read (``facts``); reads and writes nothing."""
    if person.insu_status != "active":
        raise YidiError("INSURANCE_INACTIVE", {"status": person.insu_status})
    policy = ctx.policy.insured_policy(person.insuplc_admdvs, cmd.endtime)
    catalog = ctx.policy.catalog(institution.admdvs, cmd.endtime)
    visit = Visit(psn_no=person.psn_no, treatment_admdvs=institution.admdvs, med_type=cmd.med_type,
                  admission=cmd.begntime, discharge=cmd.endtime, emergency=cmd.emergency,
                  manual=cmd.kind == "manual", dise_codg=cmd.dise_codg)
    coverage = resolve_coverage(person.insuplc_admdvs, facts.filings, visit, policy)
    coverage = _with_trauma_flag(coverage, cmd)
    if facts.dispensing is not None and cmd.kind == "direct":  # B11: 双通道, 认定, 处方 (domain/special_drugs.py)
        special = policy.params.special_drugs
        assert special is not None  # resolve_coverage refused a 特药 settlement of a region without a 特药 list
        passed = check_dispensing(special, list(cmd.items), facts.dispensing)
        coverage = replace(coverage, explanation=coverage.explanation + "；特药已核验：" + "、".join(passed))
    result = calculate(policy=policy, catalog=catalog, insutype=person.insutype, hospital_level=institution.level,
                       med_type=cmd.med_type, dise_codg=cmd.dise_codg, items=list(cmd.items), coverage=coverage,
                       cap_used_before_fen=facts.used_fen or 0)
    if cmd.use_account:
        result = pay_from_account(result, policy, person.insutype, person.acct_balc)
    return result, coverage


def result_fields(result: BenefitResult, coverage: Coverage) -> dict[str, Any]:
    fields: dict[str, Any] = result.fields_yuan()
    fields.update({
        "acct_pay": fen_to_yuan(result.acct_pay), "psn_cash_pay": fen_to_yuan(result.psn_part_amt - result.acct_pay),
        "ratio": f"{result.ratio_bp / 100:.2f}%".replace(".00%", "%"),
        "policy_version": result.policy_version,
        "catalog_version": result.catalog_version,
        "coverage": coverage.context.value,
        "filing_id": coverage.filing.filing_id if coverage.filing else None,
        "review_flag": "trauma" if "B8" in coverage.rules else "",
        "trace": [step.to_dict() for step in result.trace],
    })
    return fields


def presettle(ctx: AppContext, cmd: SettleCommand) -> dict[str, Any]:
    """预结算 (S3): the same calculation, nothing written."""
    return presettle_with_person(ctx, cmd)[0]


def presettle_with_person(ctx: AppContext, cmd: SettleCommand, *,
                          person: InsuredPerson | None = None) -> tuple[dict[str, Any], InsuredPerson]:
    """``presettle`` and the person row it read (the interface's answer shows the person).
    ``person``: the person's PERSON_COLUMNS when the caller has already read them."""
    _validate(cmd)
    with ctx.unit_of_work() as session:
        if person is None:
            person = person_row(session, cmd.psn_no)
        institution = lookups.institution(session, cmd.fixmedins_code)
        result, coverage = compute(ctx, session, cmd, person, institution)
        return result_fields(result, coverage), person


def settle(ctx: AppContext, cmd: SettleCommand) -> SettlementView:
    return settle_with_person(ctx, cmd)[0]


def settle_with_person(ctx: AppContext, cmd: SettleCommand, *,
                       locked_person: InsuredPerson | None = None) -> tuple[SettlementView, InsuredPerson]:
    """``settle`` and the person row it locked (the interface's answer shows the person).
    ``locked_person``: the person's PERSON_COLUMNS, read ``FOR UPDATE`` by the caller in this transaction."""
    _validate(cmd)
    key = visit_key(cmd)
    try:
        with ctx.unit_of_work() as session:
            institution = lookups.institution(session, cmd.fixmedins_code)
            # the person lock serialises this person's settlements: the usage read below is then current
            person: InsuredPerson = locked_person or person_row(session, cmd.psn_no, for_update=True)
            facts = _person_facts(session, cmd, person.psn_no, same_visit=True)
            if facts.paid_setl_id is not None:
                raise YidiError("DUPLICATE_CLAIM", {"setl_id": facts.paid_setl_id})
            result, coverage = _compute(ctx, cmd, person, institution, facts)
            if "before_write" in ctx.hooks:
                ctx.hooks["before_write"](cmd)
            row = _write(session, cmd, key, person, institution, result, coverage, facts.used_fen)
            if result.acct_pay:
                person = _with_balance(person, person.acct_balc - result.acct_pay)
            return _view(row, result), person
    except IntegrityError as exc:  # a concurrent settle of the same visit won the unique index
        with ctx.unit_of_work() as session:
            existing = paid_claim_of_visit(session, key)
        if existing is None:
            raise
        raise YidiError("DUPLICATE_CLAIM", {"setl_id": existing}) from exc


def _write(session: Session, cmd: SettleCommand, key: str, person: InsuredPerson, institution: Institution,
           result: BenefitResult, coverage: Coverage, used_fen: int | None) -> SettlementFields:
    """Settlement row, usage and ledger entry: plain INSERT/UPDATE statements, no re-reads. ``used_fen`` is
    the usage read under the person lock (None = no row yet for this person, year and cap)."""
    setl_id = ("SL" if cmd.kind == "direct" else "LX") + uuid.uuid4().hex[:18].upper()
    values = dict(
        setl_id=setl_id, kind=cmd.kind, status="settled", visit_key=key, mdtrt_id=cmd.mdtrt_id,
        psn_no=person.psn_no, fixmedins_code=institution.fixmedins_code, insuplc_admdvs=person.insuplc_admdvs,
        mdtrtarea_admvs=institution.admdvs, insutype=person.insutype, med_type=cmd.med_type,
        dise_codg=cmd.dise_codg, begntime=cmd.begntime, endtime=cmd.endtime, setl_date=cmd.setl_date or date.today(),
        hospital_level=institution.level, coverage_context=coverage.context.value,
        temporary_type=coverage.temporary_type.value if coverage.temporary_type else None,
        filing_id=coverage.filing.filing_id if coverage.filing else None,
        ratio_bp=result.ratio_bp, cap_key=str(result.cap_key), cap_year=cmd.endtime.year,
        policy_version=result.policy_version, catalog_version=result.catalog_version,
        review_flag="trauma" if "B8" in coverage.rules else "",
        trace=[step.to_dict() for step in result.trace],
        splits=[{"code": s.code, "name": s.name, "amount": s.amount_fen, "chrgitm_lv": s.chrgitm_lv,
                 "selfpay_prop_bp": s.selfpay_prop_bp, "med_chrgitm_type": s.med_chrgitm_type,
                 "fulamt_ownpay": s.fulamt_ownpay_fen, "overlmt": s.overlmt_fen, "preselfpay": s.preselfpay_fen,
                 "inscp": s.inscp_fen} for s in result.splits],
        msgid=cmd.msgid, acct_pay=result.acct_pay, cancelled_on=None, **result.fields_fen(),
    )
    # queued: sent with the rest of the call's writes as one statement (adapters/hot_sql.py), all under the locks
    # taken above — nothing reads them before the commit
    hot_sql.INSERT_SETTLEMENT.queue(session, values)
    if result.acct_pay:  # under the person lock taken by settle_with_person
        hot_sql.TAKE_FROM_ACCOUNT.queue(session, {"a_psn_no": person.psn_no, "a_fen": result.acct_pay})
    if used_fen is None:
        hot_sql.INSERT_USAGE.queue(session, {"psn_no": person.psn_no, "year": cmd.endtime.year,
                                             "cap_key": str(result.cap_key), "used_fen": result.hifp_pay})
    else:
        hot_sql.ADD_USAGE.queue(session, {"p_psn_no": person.psn_no, "p_year": cmd.endtime.year,
                                        "p_cap_key": str(result.cap_key), "add_fen": result.hifp_pay})
    row = SimpleNamespace(**values)  # what was written, read like a SettlementRow
    # = ledger.post_settlement, through the ledger's bulk path (same checks, two INSERTs, no ORM flush)
    ledger.post_many(session, [ledger.Entry(f"S-{setl_id}", "settlement", setl_id, row.setl_date,
                                            ledger.settlement_lines(row))])
    audit.record(session, cmd.actor, f"settlement.{cmd.kind}", setl_id, {"fund": result.fund_pay_sumamt})
    return row


def _row_fields(row: SettlementFields) -> dict[str, Any]:
    names = ["medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
             "first_selfpay", "act_pay_dedc", "hifp_pay", "pool_prop_selfpay", "fund_pay_sumamt", "psn_part_amt"]
    fields: dict[str, Any] = {name: fen_to_yuan(getattr(row, name)) for name in names}
    fields.update({"acct_pay": fen_to_yuan(row.acct_pay or 0),
                   "psn_cash_pay": fen_to_yuan(row.psn_part_amt - (row.acct_pay or 0))})
    fields.update({"ratio": f"{row.ratio_bp / 100:.2f}%".replace(".00%", "%"), "policy_version": row.policy_version,
                   "catalog_version": row.catalog_version, "coverage": row.coverage_context,
                   "filing_id": row.filing_id, "review_flag": row.review_flag, "trace": row.trace})
    return fields


def _view(row: SettlementFields, result: BenefitResult | None = None) -> SettlementView:
    return SettlementView(setl_id=row.setl_id, status=row.status, kind=row.kind, psn_no=row.psn_no,
                          fixmedins_code=row.fixmedins_code, med_type=row.med_type, begntime=row.begntime,
                          endtime=row.endtime, result=result, row_fields=_row_fields(row))


def get_settlement(ctx: AppContext, setl_id: str) -> SettlementView:
    with ctx.unit_of_work() as session:
        row = session.get(SettlementRow, setl_id)
        if row is None:
            raise YidiError("SETTLEMENT_NOT_FOUND", {"setl_id": setl_id})
        return _view(row)


def cancel(ctx: AppContext, setl_id: str, on: date | None = None, *, reversal: bool = False,
           actor: str = "system", fixmedins_code: str | None = None) -> SettlementView:
    """撤销 / 冲正 (S3): reverse exactly once — usage given back, a mirror ledger entry posted.

    Locks in the order a settlement takes them (person, then the settlement), so a cancel and a settle of
    the same person never wait for each other in a circle; the settlement is re-read under its lock
    (``populate_existing``), so a cancel that committed meanwhile is seen and this one refused."""
    with ctx.unit_of_work() as session:
        psn_no = session.scalar(select(SettlementRow.psn_no).where(SettlementRow.setl_id == setl_id))
        if psn_no is None:
            raise YidiError("SETTLEMENT_NOT_FOUND", {"setl_id": setl_id})
        person = get_person(session, psn_no, for_update=True)
        row = session.scalars(select(SettlementRow).where(SettlementRow.setl_id == setl_id).with_for_update()
                              .execution_options(populate_existing=True)).first()
        if row is None or (fixmedins_code and row.fixmedins_code != fixmedins_code):
            raise YidiError("SETTLEMENT_NOT_FOUND", {"setl_id": setl_id})
        if fixmedins_code and row.kind == "manual":  # the agency paid it after review; only the agency reverses it
            raise YidiError("MANUAL_CLAIM_NOT_CANCELLABLE", {"setl_id": setl_id})
        if row.status != "settled":
            raise YidiError("SETTLEMENT_ALREADY_CANCELLED", {"setl_id": setl_id})
        row.status = "reversed" if reversal else "cancelled"
        row.cancelled_on = on or date.today()
        person.acct_balc += row.acct_pay or 0  # the personal account gets back what it paid (B9)
        usage = _used(session, row.psn_no, row.cap_year, row.cap_key, for_update=True)
        if usage is not None:
            usage.used_fen -= row.hifp_pay
        session.flush()
        ledger.post_reversal(session, row, row.cancelled_on)
        audit.record(session, actor, "settlement.reversal" if reversal else "settlement.cancel", setl_id, {})
        return _view(row)


def list_settlements(ctx: AppContext, *, psn_no: str | None = None, fixmedins_code: str | None = None,
                     setl_date: date | None = None, insuplc_admdvs: str | None = None,
                     limit: int = 200) -> list[SettlementView]:
    with ctx.unit_of_work() as session:
        stmt = select(SettlementRow).order_by(SettlementRow.setl_date.desc(), SettlementRow.created_at.desc())
        if psn_no:
            stmt = stmt.where(SettlementRow.psn_no == psn_no)
        if fixmedins_code:
            stmt = stmt.where(SettlementRow.fixmedins_code == fixmedins_code)
        if setl_date:
            stmt = stmt.where(SettlementRow.setl_date == setl_date)
        if insuplc_admdvs:
            stmt = stmt.where(SettlementRow.insuplc_admdvs == insuplc_admdvs)
        return [_view(row) for row in session.scalars(stmt.limit(limit))]


def estimate(ctx: AppContext, cmd: SettleCommand) -> dict[str, Any]:
    """What will I pay? The settlement calculation for a planned treatment, with this year's usage; a 职工 sees
    what the personal account would pay (B9) and the cash left."""
    return presettle(ctx, estimate_command(cmd))


def estimate_command(cmd: SettleCommand) -> SettleCommand:
    """An estimate shows what the personal account would pay (B9), wherever it is computed."""
    return replace(cmd, use_account=True)


@dataclass(frozen=True)
class AnonymousProfile:
    """Who the anonymous estimate is for: no person record, so no filings and no usage this year.

    ``filing_type`` names the filing the caller has (or plans); it is treated as an approved filing to the
    institution's region from the admission date, so every coverage rule (B2–B7, F9) still decides.
    None = no filing (local treatment, F9, emergency waiver — or NOT_FILED)."""

    insuplc_admdvs: str
    insutype: str
    filing_type: str | None = None
    basis: str = "proof"


def estimate_anonymous(ctx: AppContext, cmd: SettleCommand, profile: AnonymousProfile) -> dict[str, Any]:
    """Estimate for someone without a person record (B12 trace included); writes nothing."""
    from yidi.domain.filing import Basis, Channel, Filing, FilingStatus, FilingType

    _validate(cmd)
    if profile.insutype not in ("310", "390"):
        raise invalid("insutype", "应为 310 职工 或 390 居民")
    if not ctx.policy.has_insured_policy(profile.insuplc_admdvs):
        raise YidiError("NO_POLICY", {"region": profile.insuplc_admdvs, "date": cmd.endtime.isoformat(),
                                       "year": cmd.endtime.year, "first": "（未载入任何版本）"})
    if profile.filing_type and profile.filing_type not in {t.value for t in FilingType}:
        raise invalid("filing_type", "应为 " + "、".join(t.value for t in FilingType) + " 之一，或不填（未备案）")
    if profile.basis not in {b.value for b in Basis}:
        raise invalid("basis", "应为 proof 或 commitment")
    filing_type = FilingType(profile.filing_type) if profile.filing_type else None
    basis = Basis(profile.basis)
    with ctx.unit_of_work() as session:
        institution = get_institution(session, cmd.fixmedins_code)
        policy = ctx.policy.insured_policy(profile.insuplc_admdvs, cmd.endtime)
        catalog = ctx.policy.catalog(institution.admdvs, cmd.endtime)
    filings = []
    if filing_type is not None:
        filings.append(Filing(
            filing_id="ESTIMATE", psn_no="", insuplc_admdvs=profile.insuplc_admdvs, filing_type=filing_type,
            basis=basis, mdtrtarea_admvs=institution.admdvs, begndate=cmd.begntime, enddate=None,
            apply_date=cmd.begntime, channel=Channel.APP, status=FilingStatus.ACTIVE))
    visit = Visit(psn_no="", treatment_admdvs=institution.admdvs, med_type=cmd.med_type, admission=cmd.begntime,
                  discharge=cmd.endtime, emergency=cmd.emergency, dise_codg=cmd.dise_codg)
    coverage = resolve_coverage(profile.insuplc_admdvs, filings, visit, policy)
    coverage = _with_trauma_flag(coverage, cmd)
    result = calculate(policy=policy, catalog=catalog, insutype=profile.insutype, hospital_level=institution.level,
                       med_type=cmd.med_type, dise_codg=cmd.dise_codg, items=list(cmd.items), coverage=coverage,
                       cap_used_before_fen=0)
    fields = result_fields(result, coverage)
    fields["filing_id"] = None
    return fields
