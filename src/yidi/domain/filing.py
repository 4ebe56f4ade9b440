"""Cross-region filing (备案): types, validity, change/cancel rules, approval due dates (F1–F6, F4).

Pure functions over ``Filing`` values; persistence and events live in services/adapters.

Documented readings (docs/policy-readings.md):
- A temporary filing's 6 months are counted inclusively from begndate (policy parameter
  ``filing.temporary_validity_end``): from 2023-06-01 it is valid through 2023-11-30; from 2023-08-31
  through 2024-02-28 (the day before the corresponding day, which is the month's last day when missing).
- "备案满6个月" is reached on begndate + 6 months (same reading); a change on that day needs no proof.
- A cancellation or change on day D ends the old filing on D − 1: visits admitted from D on are not covered.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from dateutil.relativedelta import relativedelta

# Channels and filing statuses are code lists (domain/codes.py), importable from here too.
from yidi.domain.codes import CHANNEL_ALIASES as CHANNEL_ALIASES
from yidi.domain.codes import CHANNEL_NAMES as CHANNEL_NAMES
from yidi.domain.codes import FILING_STATUS_NAMES
from yidi.domain.codes import ONLINE_CHANNELS as ONLINE_CHANNELS
from yidi.domain.codes import Channel as Channel
from yidi.domain.codes import FilingStatus as FilingStatus
from yidi.domain.codes import parse_channel as parse_channel
from yidi.domain.errors import YidiError
from yidi.domain.policy import FilingRules


class FilingType(StrEnum):
    RETIRED_RELOCATED = "retired_relocated"  # 异地安置退休
    LONG_TERM_RESIDENT = "long_term_resident"  # 异地长期居住
    RESIDENT_WORKER = "resident_worker"  # 常驻异地工作
    REFERRAL = "referral"  # 异地转诊
    EMERGENCY = "emergency"  # 异地急诊抢救
    OTHER_TEMPORARY = "other_temporary"  # 其他临时外出就医


class FilingCategory(StrEnum):
    LONG_TERM = "long_term"  # 异地长期居住人员
    TEMPORARY = "temporary"  # 临时外出就医人员


LONG_TERM_TYPES = frozenset({FilingType.RETIRED_RELOCATED, FilingType.LONG_TERM_RESIDENT, FilingType.RESIDENT_WORKER})

TYPE_NAMES = {
    FilingType.RETIRED_RELOCATED: "异地安置退休",
    FilingType.LONG_TERM_RESIDENT: "异地长期居住",
    FilingType.RESIDENT_WORKER: "常驻异地工作",
    FilingType.REFERRAL: "异地转诊",
    FilingType.EMERGENCY: "异地急诊抢救",
    FilingType.OTHER_TEMPORARY: "其他临时外出就医",
}


def category_of(filing_type: FilingType) -> FilingCategory:
    """F1: the six types fold into two categories."""
    return FilingCategory.LONG_TERM if filing_type in LONG_TERM_TYPES else FilingCategory.TEMPORARY


class Basis(StrEnum):
    PROOF = "proof"  # 证明材料
    COMMITMENT = "commitment"  # 个人承诺


STATUS_NAMES = FILING_STATUS_NAMES  # the filing statuses' names (domain/codes.py)

# The commitment form of seed 003's attachment (F3): shown in full and signed (online: tick + sign).
COMMITMENT_TEXT = (
    "基本医疗保险{kind}异地就医备案个人承诺书\n"
    "本人姓名{name}身份证号码{certno}，办理{kind}异地就医备案到{area}。因个人原因无法提供相应的证明材料，"
    "本人保证符合此业务办理条件，所述信息真实、准确、完整、有效，由此产生的一切法律责任均由本人承担。"
)


def commitment_text(filing_type: "FilingType | None", *, name: str, certno: str, area: str) -> str:
    """The signed form of seed 003's attachment; 长期 for the long-term types (its own wording), 临时外出就医
    for a temporary filing made on commitment (F3 reading: commitment is refused for no type)."""
    kind = "临时外出就医" if filing_type is not None and category_of(filing_type) is FilingCategory.TEMPORARY else "长期"
    return COMMITMENT_TEXT.format(kind=kind, name=name, certno=certno, area=area)


@dataclass(frozen=True)
class Filing:
    filing_id: str
    psn_no: str
    insuplc_admdvs: str
    filing_type: FilingType
    basis: Basis
    mdtrtarea_admvs: str  # F2: a city or a whole province, never one hospital
    begndate: date
    enddate: date | None  # None = long-term, indefinite (F5)
    apply_date: date
    channel: Channel
    status: FilingStatus
    approve_due_date: date | None = None
    replaces: str | None = None
    replaced_by: str | None = None
    reason: str = ""

    @property
    def category(self) -> FilingCategory:
        return category_of(self.filing_type)

    @property
    def is_long_term(self) -> bool:
        return self.category is FilingCategory.LONG_TERM

    def ever_effective(self) -> bool:
        """Approved at some point: active now, or ended by a change or cancellation."""
        return self.status in (FilingStatus.ACTIVE, FilingStatus.CHANGED, FilingStatus.CANCELLED, FilingStatus.ENDED)

    def valid_for_stay(self, admission: date, discharge: date) -> bool:
        """F7 + F8: admitted inside validity (even if it ended before discharge), or a start that falls
        between admission and discharge (retro filing before discharge)."""
        if self.begndate > discharge:
            return False
        if self.enddate is not None and admission > self.enddate:
            return False
        return self.enddate is None or self.enddate >= self.begndate


def add_months(start: date, months: int) -> date:
    """Civil Code art. 202 reading: corresponding day, or the month's last day when there is none."""
    return start + relativedelta(months=months)


def temporary_enddate(begndate: date, rules: FilingRules) -> date:
    """F5: the last valid day of a temporary filing (inclusive), by the region's counting rule."""
    corresponding = add_months(begndate, rules.temporary_validity_months.value)
    if rules.temporary_validity_end.value == "corresponding_day":
        return corresponding
    return corresponding - timedelta(days=1)


def commitment_free_from(filing: Filing, rules: FilingRules) -> date:
    """The first day a commitment-based long-term filing may change or cancel without proof (F6)."""
    return add_months(filing.begndate, rules.commitment_lock_months.value)


def add_working_days(start: date, days: int, holidays: frozenset[date] = frozenset()) -> date:
    """F4: the approval due date, counting Monday–Friday that are not listed holidays."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in holidays:
            remaining -= 1
    return current


def check_new_filing(
    filing_type: FilingType, basis: Basis, begndate: date, enddate: date | None, rules: FilingRules
) -> date | None:
    """Validate a new filing's basis and dates (F3, F5); return its enddate (None = indefinite)."""
    if basis is Basis.COMMITMENT and filing_type not in rules.commitment_allowed_for.value:
        raise YidiError("COMMITMENT_NOT_ALLOWED")
    if category_of(filing_type) is FilingCategory.LONG_TERM:
        if enddate is not None:
            raise YidiError("INVALID_INPUT", {"field": "enddate", "detail": "（长期异地居住备案长期有效，不设结束日期）"})
        return None
    standard_end = temporary_enddate(begndate, rules)
    if enddate is None or enddate == standard_end:
        return standard_end
    # A period "of N months" is spelled two ways: ending the day before the corresponding day
    # (2023-01-10 → 2023-07-09, the default, F-R1) or on the corresponding day (the Civil Code's 第二百零二条).
    # Both spellings of the standard end and of the extension's bounds are accepted as given (F-R11).
    one_day = timedelta(days=1)
    corresponding = add_months(begndate, rules.temporary_validity_months.value)
    if enddate in (corresponding, corresponding - one_day):
        return enddate
    extension = rules.temporary_extension_months.value
    months = rules.temporary_validity_months.value
    if extension is None:
        # F5: only a region whose own document sets an extension (焦作) accepts a longer period.
        raise YidiError("INVALID_INPUT", {"field": "enddate", "detail": (
            f"（参保地临时外出就医备案有效期为{months}个月，即至 {standard_end.isoformat()}，参保地政策未规定延长）")})
    low, high = extension
    if add_months(begndate, low) - one_day <= enddate <= add_months(begndate, high):
        return enddate
    # scenarios.md: a field out of range is INVALID_INPUT, and the message names the field.
    raise YidiError("INVALID_INPUT", {"field": "enddate", "detail": (
        f"（临时外出就医备案有效期为{months}个月，即至 {standard_end.isoformat()}；恶性肿瘤放化疗等规定情形可延长至"
        f" {add_months(begndate, low).isoformat()} 至 {add_months(begndate, high).isoformat()} 之间）")})


def initial_status(channel: Channel, rules: FilingRules, apply_date: date) -> tuple[FilingStatus, date | None]:
    """F4: online filings wait for a clerk where the region says so; offline ones are decided on the spot."""
    if channel in ONLINE_CHANNELS and not rules.online_auto_approve.value:
        return FilingStatus.PENDING, add_working_days(apply_date, rules.approval_working_days.value)
    return FilingStatus.ACTIVE, None


def check_change_or_cancel(filing: Filing, on: date, proof: bool, rules: FilingRules) -> None:
    """F6: proof-based long-term filings change any time; commitment-based ones only after the lock,
    earlier only with the proof the type needs. Temporary filings change any time."""
    if filing.status is not FilingStatus.ACTIVE and filing.status is not FilingStatus.PENDING:
        raise YidiError("FILING_NOT_ACTIVE", {"status": filing.status.value})
    if not filing.is_long_term or filing.basis is Basis.PROOF or proof:
        return
    free_from = commitment_free_from(filing, rules)
    if on < free_from:
        raise YidiError("FILING_CHANGE_NEEDS_PROOF", {"free_from": free_from.isoformat(),
                                                      "months": rules.commitment_lock_months.value})


def end_on(filing: Filing, on: date, status: FilingStatus, replaced_by: str | None = None, reason: str = "") -> Filing:
    """The filing as it stands after a change or cancellation on ``on``: it covers nothing admitted from ``on``."""
    last_day = on - timedelta(days=1)
    enddate = last_day if filing.enddate is None else min(filing.enddate, last_day)
    return replace(filing, status=status, enddate=enddate, replaced_by=replaced_by, reason=reason)


@dataclass(frozen=True)
class FilingEvent:
    """Append-only status history: who did what, when and why."""

    filing_id: str
    event: str  # applied / approved / rejected / changed / cancelled / replaced
    status: str
    actor: str
    at: date
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
