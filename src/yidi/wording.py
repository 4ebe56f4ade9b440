"""How things read for the people who use the pages and commands: Chinese names for stored words, and a
refusal said in the person's terms.

The error catalog (domain/errors.py) speaks to the interface: field paths such as ``items[0].amount`` and
hints such as "请按接口文档…" are right for a hospital system's programmer. A person at a form needs "第1行
费用的金额" and what to do. ``for_people`` turns a ``YidiError`` into a ``Refusal``: the same code, a message
and hint without field paths or English words, and the form field (and row) it belongs beside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yidi.domain import codes
from yidi.domain.codes import FILING_STATUS_NAMES
from yidi.domain.errors import YidiError
from yidi.domain.money import fen_to_yuan
from yidi.domain.filing import TYPE_NAMES

# Filing statuses come from the code list (domain/codes.py); the other stored words a page shows as a status:
# settlements, supervision leads (open → assigned → closed) and the filing history's events.
STATUS_NAMES = {**{status.value: name for status, name in FILING_STATUS_NAMES.items()},
                "settled": "已结算", "reversed": "已冲正", "open": "待处理",
                "assigned": "协查中", "closed": "已办结", "applied": "提交申请", "approved": "审核通过",
                "terminated_and_refiled": "终止并重新备案", "filed": "提交申请", "decided": "审核"}
BASIS_NAMES = {"proof": "证明材料", "commitment": "个人承诺"}
# One spelling of every channel for the /api answer and the pages alike (domain/codes.py).
CHANNEL_NAMES = {channel.value: name for channel, name in codes.CHANNEL_NAMES.items()}
MED_TYPE_NAMES = codes.MED_TYPE_NAMES
SETTLEMENT_STATUS_NAMES = codes.SETTLEMENT_STATUS_NAMES
VISIT_STATUS_NAMES = codes.VISIT_STATUS_NAMES
KIND_NAMES = codes.SETTLEMENT_KIND_NAMES
CLAIM_STATUS_NAMES = codes.CLAIM_STATUS_NAMES
ATTACHMENT_NAMES = {"invoice": "发票", "fee_list": "费用清单"}
COVERAGE_NAMES = {"local": "参保地本地就医", "long_term_at_filed_place": "异地长期居住人员在备案地就医",
                  "long_term_back_home": "异地长期居住人员回参保地就医",
                  "long_term_returning": "异地长期居住人员回参保地就医",
                  "temporary_returning": "临时外出就医人员回参保地就医", "temporary": "临时外出就医",
                  "manual_without_filing": "未备案回参保地手工报销", "other_temporary": "其他临时外出就医"}
ROLE_NAMES = {"person": "参保人", "hospital": "医院医保办", "agency": "经办机构", "supervisor": "监管",
              "admin": "系统管理员"}
INSUTYPE_NAMES = {"310": "职工医保", "390": "居民医保"}
LEVEL_NAMES = {3: "三级", 2: "二级", 1: "一级"}
INSU_STATUS_NAMES = {"active": "正常", "suspended": "暂停", "terminated": "终止"}

# Every stored word a person might meet inside a service's message, with its Chinese name.
_WORDS: dict[str, str] = {**{t.value: name for t, name in TYPE_NAMES.items()}, **BASIS_NAMES, **CHANNEL_NAMES,
                          **COVERAGE_NAMES, **VISIT_STATUS_NAMES, **STATUS_NAMES, **ROLE_NAMES,
                          "long_term": "异地长期居住", "true": "是", "false": "否"}
_WORD = re.compile(r"(?<![A-Za-z_])(" + "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True)) + r")(?![A-Za-z_])")

FIELD_LABELS = {
    "begndate": "开始日期", "enddate": "结束日期", "begntime": "入院（就诊）日期", "endtime": "出院日期",
    "on": "生效日期", "day": "日期", "date_from": "起始日期", "date_to": "截止日期", "month": "月份",
    "plan_year": "年度", "year": "年度", "items": "费用明细", "feedetail": "费用明细", "code": "项目编码",
    "amount": "金额", "qty": "数量", "price": "单价", "med_type": "医疗类别", "dise_codg": "病种（诊断）编码",
    "mdtrtarea_admvs": "就医地", "insuplc_admdvs": "参保地", "insutype": "险种", "filing_type": "备案类型",
    "type": "备案类型", "basis": "备案方式", "agree": "确认事项", "signature": "签名", "certno": "证件号码",
    "recovered": "追回金额", "fixmedins_code": "医疗机构", "trauma_no_third_party": "外伤无第三方责任的确认",
    "psn_no": "人员编号", "reason": "原因", "medfee_sumamt": "医疗费用总额", "det_item_fee_sumamt": "退费金额",
    "date": "生效日期", "region": "地区", "admdvs": "地区", "level": "医院等级", "setl_id": "结算号", "filing_id": "备案号",
}
_ROW_FIELD = re.compile(r"^(?:items|data|feedetail)\[(\d+)\](?:\.(\w+))?$")
_ROW_FIELD_NAMES = {None: "code", "det_item_fee_sumamt": "amount", "med_list_codg": "code", "cnt": "qty",
                    "price": "amount"}

# Codes whose catalog wording is written for an interface: the same cause and next step for a person.
_PEOPLE: dict[str, tuple[str | None, str | None]] = {
    "INVALID_INPUT": (None, "请更正后重新提交。"),
    "UNKNOWN_REGION": ("未知地区：{key}", "请从列表中选择地区，或使用6位行政区划代码（如 110000 北京市）。"),
    "UNKNOWN_INSTITUTION": ("该医疗机构未开通异地就医联网结算：{key}",
                            "请选择列表中已联网的定点医疗机构；可在“定点医院查询”中按地区和等级查找。"),
    "TRAUMA_NOT_CONFIRMED": (None, "请医院核实并勾选“外伤，已核实无第三方责任”；有第三方责任的费用由责任方承担。"),
    "VISIT_NOT_FOUND": ("未找到就诊记录 {mdtrt_id}", "请先办理入院或门诊登记。"),
    "VISIT_STATE": ("就诊 {mdtrt_id} 当前{state}，不能执行该操作", "请按 入院 → 上传费用 → 预结算 → 结算 的顺序办理。"),
    "FILING_NOT_ACTIVE": ("备案当前状态为“{status}”，不能执行该操作", None),
    "FILING_ALREADY_DECIDED": ("该备案已审核（{status}）", None),
    "LOGIN_REQUIRED": ("未登录或登录已失效", "请重新登录。"),
    "FORBIDDEN": (None, "请使用有相应权限的账号登录。"),
    "MED_TYPE_NOT_SUPPORTED": ("医疗类别“{med_type}”不支持异地直接结算",
                               "请选择普通门诊、门诊慢特病、普通住院或外伤住院。"),
    "UNKNOWN_INFNO": ("不支持的业务编号 {infno}", "请核对业务编号。"),
}


def money_text(value) -> str:
    """Money for people: fen (int) or a yuan string ("12345.60") shown as 12,345.60."""
    text = fen_to_yuan(int(value)) if isinstance(value, int) else str(value if value is not None else "")
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, cents = digits.partition(".")
    if not whole.isdigit():
        return text
    return f"{sign}{int(whole):,}{dot}{cents}"


@dataclass(frozen=True)
class Refusal:
    """A refusal as a person reads it, and where on the form it belongs (``field`` = the form field's name,
    ``row`` = the 0-based row of a repeated field such as a fee row)."""

    code: str
    message: str
    hint: str
    field: str | None = None
    row: int | None = None

    def at(self, field: str, row: int | None = None) -> bool:
        return self.field == field and self.row == row


def chinese(text: str) -> str:
    """Stored English words (filing types, statuses, roles, …) inside a message, replaced by their names."""
    text = text.replace("（true）", "").replace("（false）", "")  # an interface's flag value, nothing to a person
    return _WORD.sub(lambda match: _WORDS[match.group(1)], text)


def field_label(path: str) -> tuple[str, str, int | None]:
    """(label, form field name, row) of a field path: ``items[2].amount`` → ("第3行费用的金额", "amount", 2)."""
    match = _ROW_FIELD.match(path)
    if match:
        row, name = int(match.group(1)), match.group(2)
        field = _ROW_FIELD_NAMES.get(name, name)
        return f"第{row + 1}行费用的{FIELD_LABELS.get(field, '内容')}", field, row
    name = path.rsplit(".", 1)[-1]
    return FIELD_LABELS.get(name, FIELD_LABELS.get(path, "填写的内容")), name, None


def for_people(exc: YidiError) -> Refusal:
    params = {key: chinese(str(value)) if isinstance(value, str) else value for key, value in exc.params.items()}
    message_template, hint_template = _PEOPLE.get(exc.code, (None, None))
    field = row = None
    if exc.code == "INVALID_INPUT":
        label, field, row = field_label(str(exc.params.get("field", "")))
        detail = params.get("detail", "").strip()
        if detail.startswith("（") and detail.endswith("）"):
            detail = detail[1:-1]
        if not detail:
            message = f"{label}填写有误"
        elif detail.startswith(label):  # the detail already names the field ("出院日期 … 早于入院日期 …")
            message = detail
        else:
            message = f"{label}：{detail}"
    else:
        shown = YidiError(exc.code, params)
        message = message_template.format_map(_Blank(params)) if message_template else shown.message
    hint = hint_template.format_map(_Blank(params)) if hint_template else YidiError(exc.code, params).hint
    return Refusal(code=exc.code, message=chinese(message), hint=chinese(hint), field=field, row=row)


def refusal(field: str, message: str, hint: str = "请更正后重新提交。", row: int | None = None) -> Refusal:
    """A refusal a page finds itself (before any service is called), in the same shape."""
    return Refusal(code="INVALID_INPUT", message=message, hint=hint, field=field, row=row)


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""
