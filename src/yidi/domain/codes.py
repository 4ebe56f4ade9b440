"""The project's code lists, each defined once: medical types (med_type), filing channels, and status names.

The hospital interface, the /api routes, the pages, the CLI and both engines read these; nobody else spells a
code or its Chinese name. Stored values are the codes (``"21"``, ``"web"``, ``"settled"``); the names are how
they read for people.
"""

from __future__ import annotations

from enum import StrEnum


# ------------------------------------------------------------------------ medical types (med_type) ----
class MedClass(StrEnum):
    """What a med_type counts against (B9, B10): the inpatient cap, the outpatient limit or a disease's limit."""

    INPATIENT = "inpatient"
    OUTPATIENT = "outpatient"
    CHRONIC = "chronic"
    SPECIAL_DRUG = "special_drug"  # 特药 (B11), at a hospital or a 双通道 pharmacy


# The national med_type codes that settle directly, and the benefit class of each (B1, B9, B10).
SPECIAL_DRUG_MED_TYPE = "15"  # 特药, as provincial med_type dictionaries spell it (B11)
MED_CLASS_OF: dict[str, MedClass] = {"21": MedClass.INPATIENT, "22": MedClass.INPATIENT, "23": MedClass.INPATIENT,
                                     "11": MedClass.OUTPATIENT, "14": MedClass.CHRONIC,
                                     SPECIAL_DRUG_MED_TYPE: MedClass.SPECIAL_DRUG}
MED_TYPES: tuple[str, ...] = tuple(MED_CLASS_OF)  # "21", "22", "23", "11", "14", "15": the engine's code order
MED_TYPE_NAMES: dict[str, str] = {"11": "普通门诊", "14": "门诊慢特病", "21": "普通住院", "22": "外伤住院",
                                  "23": "转外诊治住院", "15": "特药"}


# ---------------------------------------------------------------------------- filing channels (F4) ----
class Channel(StrEnum):
    """F4: where the filing was made; recorded on the filing."""

    APP = "app"  # 国家医保服务平台APP
    MINI_PROGRAM = "mini_program"  # 小程序
    WEB = "web"  # 网厅
    PHONE = "phone"  # 电话
    WINDOW = "window"  # 经办窗口
    HOSPITAL_DESK = "hospital_desk"  # 医院医保服务站
    TOWNSHIP = "township"  # 乡镇（街道）/村（社区）便民服务中心


ONLINE_CHANNELS = frozenset({Channel.APP, Channel.MINI_PROGRAM, Channel.WEB})

# The one Chinese name of each channel: the /api answer (channel_name) and the pages show the same words.
CHANNEL_NAMES: dict[Channel, str] = {
    Channel.APP: "国家医保服务平台APP",
    Channel.MINI_PROGRAM: "国家异地就医备案小程序",
    Channel.WEB: "网上服务大厅",
    Channel.PHONE: "电话",
    Channel.WINDOW: "经办窗口",
    Channel.HOSPITAL_DESK: "医院医保服务站",
    Channel.TOWNSHIP: "乡镇（街道）/村（社区）便民服务中心",
}

# Names HIS software, agencies and people use for the same channels (F4). Unknown names are refused.
CHANNEL_ALIASES: dict[str, Channel] = {
    "miniprogram": Channel.MINI_PROGRAM, "mini-program": Channel.MINI_PROGRAM, "applet": Channel.MINI_PROGRAM,
    "wechat": Channel.MINI_PROGRAM, "alipay": Channel.MINI_PROGRAM, "小程序": Channel.MINI_PROGRAM,
    "online": Channel.WEB, "website": Channel.WEB, "internet": Channel.WEB, "网厅": Channel.WEB,
    "mobile": Channel.APP, "国家医保服务平台app": Channel.APP,
    "telephone": Channel.PHONE, "tel": Channel.PHONE, "hotline": Channel.PHONE, "电话": Channel.PHONE,
    "counter": Channel.WINDOW, "offline": Channel.WINDOW, "agency": Channel.WINDOW, "窗口": Channel.WINDOW,
    "hospital": Channel.HOSPITAL_DESK, "hospital_service_desk": Channel.HOSPITAL_DESK,
    "service_desk": Channel.HOSPITAL_DESK, "village": Channel.TOWNSHIP, "community": Channel.TOWNSHIP,
}


def parse_channel(value: str) -> Channel:
    """A channel code or one of its aliases; ValueError for anything else."""
    text = (value or "").strip()
    try:
        return Channel(text.lower())
    except ValueError:
        if text.lower() in CHANNEL_ALIASES:
            return CHANNEL_ALIASES[text.lower()]
        raise


# --------------------------------------------------------------------------------------- statuses ----
class FilingStatus(StrEnum):
    PENDING = "pending"  # 待审核 (F4 河南: online, within 2 working days)
    ACTIVE = "active"  # 有效
    REJECTED = "rejected"  # 未通过
    CHANGED = "changed"  # 已变更 (superseded by a new filing)
    CANCELLED = "cancelled"  # 已取消
    ENDED = "ended"  # 已终止: the person's insurance status changed (seed 000 一(二))


FILING_STATUS_NAMES: dict[FilingStatus, str] = {
    FilingStatus.PENDING: "待审核",
    FilingStatus.ACTIVE: "有效",
    FilingStatus.REJECTED: "未通过",
    FilingStatus.CHANGED: "已变更",
    FilingStatus.CANCELLED: "已取消",
    FilingStatus.ENDED: "已终止（参保状态变更）",
}

# A settlement (and a visit) is 撤销, a filing 取消: the same status word reads differently in Chinese.
SETTLEMENT_STATUS_NAMES: dict[str, str] = {"settled": "已结算", "cancelled": "已撤销", "reversed": "已冲正"}
VISIT_STATUS_NAMES: dict[str, str] = {"registered": "在院", "discharged": "已出院", "settled": "已结算",
                                      "cancelled": "已撤销"}
CLAIM_STATUS_NAMES: dict[str, str] = {"submitted": "待审核", "approved": "审核通过（待转账）", "rejected": "已驳回",
                                      "paid": "已转账", "reversed": "已冲正"}

# How a settlement was made (settlements.kind): at the hospital's counter, or as a 零星报销 (S4) afterwards.
SETTLEMENT_KIND_NAMES: dict[str, str] = {"direct": "直接结算", "manual": "零星报销"}
