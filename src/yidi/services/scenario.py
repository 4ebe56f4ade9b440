"""The scenario runner (docs/scenarios.md): play a YAML story through the same services the API uses.

Each file runs on a fresh embedded SQLite database with the baseline reference data and policy.
Malformed files (bad YAML, unknown keys, unknown ``do``) raise ``ScenarioFormatError`` (exit 2);
a step that fails is reported with its coded error; ``expect`` mismatches are collected (exit 1).
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Literal, overload

import yaml
from sqlalchemy.orm import Session

from yidi.domain.errors import YidiError, invalid
from yidi.domain.money import MoneyFormatError, fen_to_yuan, yuan_to_fen
from yidi.services import filings as filing_service
from yidi.services import manual_claims, pharmacy
from yidi.services import settlements as settlement_service
from yidi.services import treatment_entry
from yidi.services.context import AppContext
from yidi.services.reference import add_person, load_reference
from yidi.services.settlements import parse_items
from yidi.services.users import Principal


class ScenarioFormatError(ValueError):
    """The file itself is malformed: the runner exits 2."""


STEP_KEYS: dict[str, tuple[set[str], set[str]]] = {
    # do: (required keys, optional keys) besides id / do / expect / expect_error / expect_ok
    "file": ({"psn_no", "type", "basis", "mdtrtarea_admvs", "begndate", "apply_date"}, {"channel", "enddate"}),
    "change_filing": ({"filing", "date", "proof"}, {"mdtrtarea_admvs"}),
    "cancel_filing": ({"filing", "date", "proof"}, set()),
    "settle": ({"psn_no", "fixmedins_code", "med_type", "begntime", "endtime", "items"},
               {"dise_codg", "emergency", "trauma_no_third_party", "acct_used_flag"}),
    "cancel_settlement": ({"settlement"}, {"date"}),
    "insurance_status": ({"psn_no", "status", "date"}, set()),
    "supply_materials": ({"filing", "date"}, set()),
    # manual_claim = submit_claim + approve_claim (the story's clerk approves on the submission day)
    "manual_claim": ({"psn_no", "fixmedins_code", "med_type", "begntime", "endtime", "items"},
                     {"dise_codg", "emergency", "trauma_no_third_party"}),
    "submit_claim": ({"psn_no", "fixmedins_code", "med_type", "begntime", "endtime", "items"},
                     {"dise_codg", "emergency", "trauma_no_third_party", "date"}),
    "approve_claim": ({"claim"}, {"date"}),
    "reject_claim": ({"claim", "reason"}, {"date"}),
    "estimate": ({"psn_no", "fixmedins_code", "med_type", "begntime", "endtime", "items"},
                 {"dise_codg", "emergency", "trauma_no_third_party"}),
    # B11 特药: the insured region's 特药待遇认定, and a purchase at a 定点零售药店 (2101/2102 without the envelope)
    "recognize_special_drug": ({"psn_no", "drug", "hospital", "doctor", "begndate"}, {"enddate", "dise_codg"}),
    "pharmacy_settle": ({"psn_no", "fixmedins_code", "date", "items"},
                        {"rxno", "doctor", "acct_used_flag", "med_type", "presettle"}),
}
# A story has no scanned files: its claims carry these stand-ins (a minimal PDF each) and a stand-in account.
_STAND_IN_PDF = b"%PDF-1.4\n% yidi scenario stand-in\n%%EOF\n"
STAND_IN_ATTACHMENTS = (manual_claims.Attachment("invoice", "invoice.pdf", "application/pdf", _STAND_IN_PDF),
                        manual_claims.Attachment("fee_list", "fee_list.pdf", "application/pdf", _STAND_IN_PDF))
STAND_IN_ACCOUNT = "6222000000000000000"
COMMON_KEYS = {"id", "do", "expect", "expect_error", "expect_ok", "note"}
PERSON_KEYS = {"psn_no", "certno", "insuplc_admdvs", "insutype"}
# scenarios.md's example always gives a name, but it decides nothing: a person without one is named by psn_no.
PERSON_OPTIONAL = {"name", "insu_status", "acct_balc"}


@dataclass
class StepOutcome:
    id: str
    ok: bool
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    mismatches: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "ok": self.ok}
        if self.ok:
            out["result"] = self.result
        else:
            out["error"] = self.error
        if self.mismatches:
            out["mismatches"] = self.mismatches
        return out


@dataclass
class ScenarioReport:
    name: str
    steps: list[StepOutcome]

    @property
    def mismatches(self) -> list[str]:
        return [m for step in self.steps for m in step.mismatches]

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.name, "steps": [step.to_dict() for step in self.steps]}


class _ScenarioLoader(yaml.SafeLoader):
    """Safe YAML, except that an impossible date (2023-02-30) stays text so the step reports
    INVALID_INPUT naming the field, instead of the whole file failing to load."""


def _lenient_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_ScenarioLoader.add_constructor("tag:yaml.org,2002:timestamp", _lenient_timestamp)


def load_scenario(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_ScenarioLoader)  # noqa: S506 - a SafeLoader
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ScenarioFormatError(f"{path}: 无法读取或不是有效的 YAML: {exc}") from exc
    validate_shape(data, str(path))
    scenario: dict[str, Any] = data  # validate_shape: a mapping
    return scenario


def validate_shape(data: Any, where: str = "scenario") -> None:
    if not isinstance(data, dict):
        raise ScenarioFormatError(f"{where}: 顶层应为映射")
    unknown = set(data) - {"name", "persons", "steps", "description"}
    if unknown:
        raise ScenarioFormatError(f"{where}: 未知的键 {sorted(unknown)}")
    if not isinstance(data.get("steps"), list):
        raise ScenarioFormatError(f"{where}: 缺少 steps 列表")
    persons = data.get("persons") or []
    if not isinstance(persons, list):
        raise ScenarioFormatError(f"{where}: persons 应为列表")
    for index, person in enumerate(persons):
        if not isinstance(person, dict):
            raise ScenarioFormatError(f"{where}: persons[{index}] 应为映射")
        missing, extra = PERSON_KEYS - set(person), set(person) - PERSON_KEYS - PERSON_OPTIONAL
        if missing or extra:
            raise ScenarioFormatError(f"{where}: persons[{index}] 缺少 {sorted(missing)} / 未知 {sorted(extra)}")
    seen: set[str] = set()
    for index, step in enumerate(data["steps"]):
        if not isinstance(step, dict):
            raise ScenarioFormatError(f"{where}: steps[{index}] 应为映射")
        step_id = step.get("id")
        if step_id is None or str(step_id) in seen:
            raise ScenarioFormatError(f"{where}: steps[{index}] 缺少 id 或 id 重复")
        seen.add(str(step_id))
        action = step.get("do")
        if action not in STEP_KEYS:
            raise ScenarioFormatError(f"{where}: 步骤 {step_id}: 未知的 do: {action!r}（可用 {sorted(STEP_KEYS)}）")
        required, optional = STEP_KEYS[action]
        unknown = set(step) - required - optional - COMMON_KEYS
        if unknown:
            raise ScenarioFormatError(f"{where}: 步骤 {step_id}: 未知的键 {sorted(unknown)}")
        if "expect" in step and not isinstance(step["expect"], dict):
            raise ScenarioFormatError(f"{where}: 步骤 {step_id}: expect 应为映射")
        if "expect_error" in step and (not isinstance(step["expect_error"], str) or not step["expect_error"].strip()):
            raise ScenarioFormatError(f"{where}: 步骤 {step_id}: expect_error 应为错误码文本，如 NOT_FILED")
        if "expect_ok" in step and not isinstance(step["expect_ok"], bool):
            raise ScenarioFormatError(f"{where}: 步骤 {step_id}: expect_ok 应为 true 或 false")
        if "expect_error" in step and (step.get("expect_ok") is True or "expect" in step):
            raise ScenarioFormatError(f"{where}: 步骤 {step_id}: expect_error 不能与 expect / expect_ok: true 同时使用")


# ------------------------------------------------------------------------ parsing --
@overload
def _date(step: dict[str, Any], key: str, required: Literal[True] = True) -> date: ...
@overload
def _date(step: dict[str, Any], key: str, required: bool) -> date | None: ...


def _date(step: dict[str, Any], key: str, required: bool = True) -> date | None:
    value = step.get(key)
    if value is None:
        if required:
            raise invalid(key, "缺少该字段")
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text.replace("/", "-")).date()
    except ValueError:
        raise invalid(key, f"日期格式应为 YYYY-MM-DD：{value!r}") from None


@overload
def _str(step: dict[str, Any], key: str, required: Literal[True] = True) -> str: ...
@overload
def _str(step: dict[str, Any], key: str, required: bool) -> str | None: ...


def _str(step: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = step.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise invalid(key, "缺少该字段")
        return None
    if isinstance(value, (dict, list)):
        raise invalid(key, "应为文本")
    return str(value).strip()


def _bool(step: dict[str, Any], key: str, default: bool | None = False) -> bool | None:
    value = step.get(key, default)
    if value is None or isinstance(value, bool):
        return value
    raise invalid(key, "应为 true 或 false")


def settle_command(step: dict[str, Any], kind: str) -> settlement_service.SettleCommand:
    med_type = _str(step, "med_type")
    return settlement_service.SettleCommand(
        psn_no=_str(step, "psn_no"), fixmedins_code=_str(step, "fixmedins_code"), med_type=med_type,
        begntime=_date(step, "begntime"), endtime=_date(step, "endtime"), items=parse_items(step.get("items")),
        dise_codg=_str(step, "dise_codg", required=False), emergency=bool(_bool(step, "emergency")),
        trauma_no_third_party=_bool(step, "trauma_no_third_party", None), kind=kind, actor="scenario",
        use_account=bool(_bool(step, "acct_used_flag")),
    )


# ------------------------------------------------------------------------ running --
class Runner:
    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self.filings: dict[str, str] = {}  # step id -> filing id
        self.settlements: dict[str, str] = {}  # step id -> setl id
        self.claims: dict[str, str] = {}  # step id -> 零星报销 claim id
        self.names: dict[str, str] = {}

    def _filing_ref(self, step: dict[str, Any]) -> str:
        ref = _str(step, "filing")
        if ref not in self.filings:
            raise invalid("filing", f"没有 id 为 {ref} 的备案步骤")
        return filing_service.current_filing_id(self.ctx, self.filings[ref])

    def do_file(self, step: dict[str, Any]) -> dict[str, Any]:
        apply_date = _date(step, "apply_date")
        psn_no = _str(step, "psn_no")
        cmd = filing_service.FileCommand(
            psn_no=psn_no, filing_type=_str(step, "type"), basis=_str(step, "basis"),
            mdtrtarea_admvs=_str(step, "mdtrtarea_admvs"), begndate=_date(step, "begndate"), apply_date=apply_date,
            channel=_str(step, "channel", required=False) or "app", enddate=_date(step, "enddate", required=False),
            commitment_signature=self.names.get(psn_no, psn_no), actor="scenario",
        )
        filing = filing_service.file_filing(self.ctx, cmd)
        if filing.status.value == "pending":  # the contract: the runner approves on apply_date (F4)
            filing = filing_service.decide_filing(self.ctx, filing.filing_id, approve=True, actor="scenario-clerk",
                                                  on=apply_date)
        self.filings[str(step["id"])] = filing.filing_id
        return {"filing_id": filing.filing_id, "status": filing.status.value,
                "begndate": filing.begndate.isoformat(), "enddate": filing.enddate.isoformat() if filing.enddate else None,
                "category": filing.category.value}

    def do_change_filing(self, step: dict[str, Any]) -> dict[str, Any]:
        filing = filing_service.change_filing(
            self.ctx, self._filing_ref(step), _date(step, "date"), proof=bool(_bool(step, "proof")),
            mdtrtarea_admvs=_str(step, "mdtrtarea_admvs", required=False), actor="scenario")
        self.filings[str(step["id"])] = filing.filing_id
        return {"filing_id": filing.filing_id, "status": filing.status.value,
                "begndate": filing.begndate.isoformat(), "enddate": filing.enddate.isoformat() if filing.enddate else None}

    def do_cancel_filing(self, step: dict[str, Any]) -> dict[str, Any]:
        filing = filing_service.cancel_filing(self.ctx, self._filing_ref(step), _date(step, "date"),
                                              proof=bool(_bool(step, "proof")), actor="scenario")
        return {"filing_id": filing.filing_id, "status": filing.status.value,
                "enddate": filing.enddate.isoformat() if filing.enddate else None}

    def do_supply_materials(self, step: dict[str, Any]) -> dict[str, Any]:
        filing = filing_service.supply_materials(self.ctx, self._filing_ref(step), _date(step, "date"),
                                                 actor="scenario-clerk")
        self.filings[str(step["id"])] = filing.filing_id
        return {"filing_id": filing.filing_id, "status": filing.status.value, "basis": filing.basis.value,
                "begndate": filing.begndate.isoformat()}

    def do_insurance_status(self, step: dict[str, Any]) -> dict[str, Any]:
        ended = filing_service.change_insurance_status(self.ctx, _str(step, "psn_no"), _str(step, "status"),
                                                       _date(step, "date"), actor="scenario")
        return {"psn_no": _str(step, "psn_no"), "insu_status": _str(step, "status"),
                "filings_ended": [f.filing_id for f in ended]}

    # Settle, estimate and cancel are entered where the treatment happened (services/treatment_entry): on one node
    # that is settlements' own use cases; on a federation node (federation/scenario.py) the insured node decides.
    def _settle(self, step: dict[str, Any], kind: str) -> dict[str, Any]:
        view = treatment_entry.settle(self.ctx, settle_command(step, kind))
        self.settlements[str(step["id"])] = view.setl_id
        return view.to_result()

    def do_settle(self, step: dict[str, Any]) -> dict[str, Any]:
        return self._settle(step, "direct")

    def _submit_claim(self, step: dict[str, Any]) -> manual_claims.Claim:
        """The person's submission, with the runner's stand-in invoice and fee list (a story has no files), entered
        where the treatment happened (on a federation it travels to the insured node, which makes it)."""
        cmd = settle_command(step, "manual")
        on = _date(step, "date", required=False) or cmd.endtime
        return treatment_entry.submit_claim(self.ctx, manual_claims.SubmitCommand(
            psn_no=cmd.psn_no, fixmedins_code=cmd.fixmedins_code, med_type=cmd.med_type, begntime=cmd.begntime,
            endtime=cmd.endtime, items=cmd.items, dise_codg=cmd.dise_codg, emergency=cmd.emergency,
            trauma_no_third_party=cmd.trauma_no_third_party, bank_name="场景银行", bank_account=STAND_IN_ACCOUNT,
            account_name=self.names.get(cmd.psn_no, cmd.psn_no), attachments=STAND_IN_ATTACHMENTS,
            submitted_on=on, actor="scenario"))

    def _clerk(self, claim_id: str) -> Principal:
        region = manual_claims.claim_region(self.ctx, claim_id)
        return Principal("scenario-clerk", "agency", region, None, None)

    def _decide(self, claim_id: str, approve: bool, on: date | None, reason: str = "") -> manual_claims.Decision:
        return manual_claims.decide(self.ctx, self._clerk(claim_id), claim_id, approve=approve, reason=reason, on=on)

    def do_manual_claim(self, step: dict[str, Any]) -> dict[str, Any]:
        claim = self._submit_claim(step)
        self.claims[str(step["id"])] = claim.claim_id
        try:
            decision = self._decide(claim.claim_id, True, claim.submitted_on)
        except YidiError as refusal:  # what cannot be paid, the clerk rejects, saying why (the story goes on)
            self._decide(claim.claim_id, False, claim.submitted_on, refusal.full_message())
            raise
        settlement, setl_id = decision.settlement, decision.claim.setl_id
        assert settlement is not None and setl_id is not None  # an approved claim is paid by its settlement
        self.settlements[str(step["id"])] = setl_id
        return settlement

    def do_submit_claim(self, step: dict[str, Any]) -> dict[str, Any]:
        claim = self._submit_claim(step)
        self.claims[str(step["id"])] = claim.claim_id
        return {"claim_id": claim.claim_id, "status": claim.status, "due_date": claim.due_date.isoformat(),
                "medfee_sumamt": fen_to_yuan(claim.medfee_sumamt)}

    def _claim_ref(self, step: dict[str, Any]) -> str:
        ref = _str(step, "claim")
        if ref not in self.claims:
            raise invalid("claim", f"没有 id 为 {ref} 的零星报销申请步骤")
        return self.claims[ref]

    def do_approve_claim(self, step: dict[str, Any]) -> dict[str, Any]:
        decision = self._decide(self._claim_ref(step), True, _date(step, "date", required=False))
        settlement, setl_id = decision.settlement, decision.claim.setl_id
        assert settlement is not None and setl_id is not None  # an approved claim is paid by its settlement
        self.settlements[str(step["id"])] = setl_id
        self.claims[str(step["id"])] = decision.claim.claim_id
        return {"claim_id": decision.claim.claim_id, "claim_status": decision.claim.status, **settlement}

    def do_reject_claim(self, step: dict[str, Any]) -> dict[str, Any]:
        decision = self._decide(self._claim_ref(step), False, _date(step, "date", required=False),
                                _str(step, "reason"))
        return {"claim_id": decision.claim.claim_id, "status": decision.claim.status, "reason": decision.claim.reason}

    def do_estimate(self, step: dict[str, Any]) -> dict[str, Any]:
        return treatment_entry.estimate(self.ctx, settle_command(step, "direct"))

    def do_cancel_settlement(self, step: dict[str, Any]) -> dict[str, Any]:
        ref = _str(step, "settlement")
        if ref not in self.settlements:
            raise invalid("settlement", f"没有 id 为 {ref} 的结算步骤")
        on = _date(step, "date", required=False)
        if ref in self.claims:  # a manual claim is undone by the agency that paid it: its 冲正
            claim_id = self.claims[ref]
            manual_claims.reverse(self.ctx, self._clerk(claim_id), claim_id, reason="场景：经办机构冲正", on=on)
            view = settlement_service.get_settlement(self.ctx, self.settlements[ref])
            return {"setl_id": view.setl_id, "status": view.status}
        return treatment_entry.cancel(self.ctx, self.settlements[ref], on, actor="scenario")

    def do_recognize_special_drug(self, step: dict[str, Any]) -> dict[str, Any]:
        row = pharmacy.recognize(self.ctx, psn_no=_str(step, "psn_no"), med_list_codg=_str(step, "drug"),
                                 fixmedins_code=_str(step, "hospital"), doctor_code=_str(step, "doctor"),
                                 begndate=_date(step, "begndate"), enddate=_date(step, "enddate", required=False),
                                 dise_codg=_str(step, "dise_codg", required=False) or "", actor="scenario-clerk")
        return {"recognition_id": row.recognition_id, "status": row.status, "begndate": row.begndate.isoformat(),
                "enddate": row.enddate.isoformat() if row.enddate else None}

    def do_pharmacy_settle(self, step: dict[str, Any]) -> dict[str, Any]:
        """A pharmacy purchase: items as in ``settle``, every line filling prescription ``rxno`` by ``doctor``."""
        items = parse_items(step.get("items"))
        rxno, doctor = _str(step, "rxno", required=False), _str(step, "doctor", required=False)
        purchase = pharmacy.Purchase(
            fixmedins_code=_str(step, "fixmedins_code"), psn_no=_str(step, "psn_no"), on=_date(step, "date"),
            med_type=_str(step, "med_type", required=False) or "15",
            lines=tuple(pharmacy.DrugLine(str(i + 1), item.code, item.amount_fen, item.qty, item.price_fen,
                                          rxno=rxno, doctor_code=doctor) for i, item in enumerate(items)),
            use_account=bool(_bool(step, "acct_used_flag")), actor="scenario")
        if _bool(step, "presettle"):
            outcome = pharmacy.presettle(self.ctx, purchase)
            return {key: value for key, value in outcome.fields.items() if not key.startswith("_")}
        outcome = pharmacy.settle(self.ctx, purchase)
        self.settlements[str(step["id"])] = outcome.setl_id
        return {"setl_id": outcome.setl_id, "status": "settled", **outcome.fields}

    def run_step(self, step: dict[str, Any]) -> StepOutcome:
        step_id = str(step["id"])
        handler: Callable[[dict[str, Any]], dict[str, Any]] = getattr(self, f"do_{step['do']}")
        try:
            result = handler(step)
            outcome = StepOutcome(step_id, True, result=result)
        except YidiError as exc:
            outcome = StepOutcome(step_id, False, error={"code": exc.code, "message": exc.full_message()})
        outcome.mismatches = compare(step, outcome)
        return outcome


def _normalise(expected: Any, actual: Any) -> tuple[Any, Any]:
    if isinstance(expected, bool) or expected is None:
        return expected, actual
    if isinstance(expected, (date, datetime)):
        return expected.isoformat()[:10], actual
    if isinstance(expected, (int, float, Decimal)) and isinstance(actual, str):
        try:
            return fen_to_yuan(yuan_to_fen(expected)), actual
        except MoneyFormatError:
            return str(expected), actual
    if isinstance(expected, str) and isinstance(actual, str):
        try:
            return fen_to_yuan(yuan_to_fen(expected)), fen_to_yuan(yuan_to_fen(actual))
        except MoneyFormatError:
            return expected, actual
    return expected, actual


def compare(step: dict[str, Any], outcome: StepOutcome) -> list[str]:
    step_id = step["id"]
    problems = []
    error, result = outcome.error or {}, outcome.result or {}  # error when refused, result when ok
    if "expect_error" in step:
        wanted = str(step["expect_error"])
        if outcome.ok:
            problems.append(f"{step_id}: expected error {wanted}, but the step succeeded")
        elif error["code"] != wanted:
            problems.append(f"{step_id}: expected error {wanted}, got {error['code']}")
    if step.get("expect_ok") is True and not outcome.ok:
        problems.append(f"{step_id}: expected ok, got {error['code']}: {error['message']}")
    if step.get("expect_ok") is False and outcome.ok:
        problems.append(f"{step_id}: expected a refusal (expect_ok: false), but the step succeeded")
    if "expect" in step:
        if not outcome.ok:
            problems.append(f"{step_id}: expected a result, got {error['code']}: {error['message']}")
        else:
            for key, expected in step["expect"].items():
                if key not in result:
                    problems.append(f"{step_id}.{key}: expected {expected!r}, field missing from result")
                    continue
                want, got = _normalise(expected, result[key])
                if want != got:
                    problems.append(f"{step_id}.{key}: expected {expected!r}, got {result[key]!r}")
    return problems


def scenario_persons(data: dict[str, Any], baseline: list[dict[str, Any]]) -> list[tuple[dict[str, Any], bool]]:
    """Who a story plays with, as ``add_person`` arguments and whether the story declared them: the baseline's demo
    persons (docs/baseline-policy.md), unless the story declares its own person with the same psn_no or certno (they
    carry no filings; scenarios file their own), then the story's persons."""
    declared = data.get("persons") or []
    taken = {str(p["psn_no"]) for p in declared} | {str(p["certno"]).upper() for p in declared}
    persons = [({key: str(value) for key, value in person.items()}, False) for person in baseline
               if person["psn_no"] not in taken and person["certno"].upper() not in taken]
    persons += [(dict(psn_no=str(p["psn_no"]), name=str(p.get("name") or p["psn_no"]), certno=str(p["certno"]),
                      insuplc_admdvs=str(p["insuplc_admdvs"]), insutype=str(p["insutype"]),
                      insu_status=str(p.get("insu_status", "active")), acct_balc=str(p.get("acct_balc", 0))), True)
                for p in declared]
    return persons


def add_scenario_person(session: Session, person: dict[str, Any], declared: bool) -> None:
    """A declared person the rules refuse makes the file malformed (exit 2); the baseline's are known good."""
    try:
        add_person(session, **person)
    except YidiError as exc:
        if not declared:
            raise
        raise ScenarioFormatError(f"persons {person['psn_no']}: {exc.full_message()}") from exc


def run_scenario_data(data: dict[str, Any], ctx: AppContext) -> ScenarioReport:
    validate_shape(data)
    reference = load_reference(ctx, persons=False)
    runner = Runner(ctx)
    persons = scenario_persons(data, reference.get("persons", []))
    with ctx.unit_of_work() as session:
        for person, declared in persons:
            add_scenario_person(session, person, declared)
            runner.names[person["psn_no"]] = person["name"]
    steps = [runner.run_step(step) for step in data["steps"]]
    return ScenarioReport(str(data.get("name", "")), steps)


_TEMPLATE: Path | None = None


def _migrated_template() -> Path:
    """A freshly migrated, empty embedded database, built once per process; each scenario plays on its own
    copy of it (a fresh database every run, without paying for the migrations every time)."""
    global _TEMPLATE
    if _TEMPLATE is None or not _TEMPLATE.exists():
        folder = Path(tempfile.mkdtemp(prefix="yidi-scenario-template-"))
        AppContext.from_url(f"sqlite:///{folder}/template.db").engine.dispose()
        with closing(sqlite3.connect(folder / "template.db", isolation_level=None)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # fold the WAL into the file we copy
        _TEMPLATE = folder / "template.db"
    return _TEMPLATE


def run_scenario_file(path: Path) -> ScenarioReport:
    data = load_scenario(path)
    with tempfile.TemporaryDirectory(prefix="yidi-scenario-") as tmp:
        database = Path(tmp) / "scenario.db"
        shutil.copyfile(_migrated_template(), database)
        ctx = AppContext.from_url(f"sqlite:///{database}", migrate=False)
        try:
            return run_scenario_data(data, ctx)
        finally:
            ctx.engine.dispose()
