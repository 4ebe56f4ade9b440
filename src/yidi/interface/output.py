"""The interface's output shapes (setlinfo, setldetail, per-row 费用分割, 1101's person). Each field is
defined once in docs/interface.md.

As real platforms answer: amounts and counts are JSON numbers (yuan with at most two decimals, e.g.
``9435.0``; refunds negative), codes and dates are text, and a field the national spec lists but this
project does not know is present with the spec's empty value — ``""`` for text, ``0`` for numbers.
``fund_pay_sumamt`` = ``hifp_pay`` (the personal account is not a fund here: ``acct_pay`` is separate)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from yidi.domain.money import yuan_to_fen
from yidi.services.reconciliation import clr_type_of
from yidi.services.reference import mask_certno
from yidi.services.visits import RowSplit

FUND_PAY_TYPE = {"310": ("310100", "职工基本医疗保险统筹基金"), "390": ("390100", "城乡居民基本医疗保险基金")}
NOT_MODELLED = ("cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay", "hosp_part_amt",
                "acct_mulaid_pay", "hifdm_pay")  # fund payments this project does not make: 0
SETTLED_AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
                   "first_selfpay", "act_pay_dedc", "hifp_pay", "pool_prop_selfpay", "fund_pay_sumamt",
                   "psn_part_amt")


class ShownPerson(Protocol):
    """What 1101 and setlinfo show of a person (the services' person row or record)."""

    @property
    def psn_no(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def certno(self) -> str: ...
    @property
    def insutype(self) -> str: ...
    @property
    def insuplc_admdvs(self) -> str: ...


class ShownVisit(Protocol):
    """What setlinfo shows of a visit (``mdtrt_cert_type`` is read when present, "02" otherwise)."""

    @property
    def mdtrt_id(self) -> str: ...
    @property
    def med_type(self) -> str: ...
    @property
    def begntime(self) -> date: ...


def now_text(moment: datetime | None = None) -> str:
    return (moment or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")


def yuan(fen: int) -> float:
    """Fen → yuan as a JSON number. Integer division by 100 is correctly rounded, so the number's shortest
    text is the exact two-decimal amount (12345 → 123.45)."""
    return fen / 100


def yuan_of(text: Any) -> float:
    """A yuan string from the settlement services ("9435.00") → JSON number."""
    return yuan(yuan_to_fen(text))


def count(value: Decimal | int | None) -> float | int:
    """A count or unit price as a JSON number (an integral value stays an integer)."""
    if value is None:
        return 0
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)


def prop(bp: int) -> float:
    """Self-pay share as a number: 2000 bp → 0.2."""
    return bp / 10000


def fee_row(entry: RowSplit) -> dict:
    line, split = entry.line, entry.split
    limit = entry.price_limit_fen
    return {
        "feedetl_sn": line.feedetl_sn, "init_feedetl_sn": line.init_feedetl_sn or "",
        "med_list_codg": line.med_list_codg, "medins_list_codg": line.medins_list_codg, "list_name": split.name,
        "det_item_fee_sumamt": yuan(line.amount_fen), "cnt": count(line.cnt), "pric": count(line.pric),
        "pric_uplmt_amt": yuan(limit) if limit is not None else 0,
        "med_chrgitm_type": split.med_chrgitm_type, "chrgitm_lv": split.chrgitm_lv,
        "selfpay_prop": prop(split.selfpay_prop_bp),
        "fulamt_ownpay_amt": yuan(split.fulamt_ownpay_fen), "overlmt_amt": yuan(split.overlmt_fen),
        "preselfpay_amt": yuan(split.preselfpay_fen), "inscp_scp_amt": yuan(split.inscp_fen),
        "lmt_used_flag": "0", "bas_medn_flag": "", "hi_nego_drug_flag": "1" if split.special_drug else "0",
        "chld_medc_flag": "", "list_sp_item_flag": "", "drt_reim_flag": "0", "memo": "",
    }


def person_fields(person: ShownPerson, on: date | None = None) -> dict:
    """What the platform says about a person in 1101's baseinfo and in setlinfo."""
    return {"psn_no": person.psn_no, "psn_name": person.name, "psn_cert_type": "01",
            "certno": mask_certno(person.certno), "gend": gender_of(person.certno), "naty": "",
            "brdy": birthday_of(person.certno), "age": age_of(person.certno, on)}


def setlinfo(fields: dict, visit: ShownVisit, person: ShownPerson, *, setl_id: str, setl_time: str,
             acct_balc_fen: int, medins_setl_id: str = "") -> dict:
    """``fields`` are yuan strings from services.settlements (pre-settle result or settled row); the
    answer has every field of the national setlinfo, numbers as numbers."""
    enddate: date = fields["_endtime"]
    acct_pay = yuan_to_fen(fields.get("acct_pay", "0.00"))
    psn_part = yuan_to_fen(fields["psn_part_amt"])
    info = {"setl_id": setl_id, "mdtrt_id": visit.mdtrt_id, **person_fields(person, enddate),
            "insutype": person.insutype, "psn_type": "", "cvlserv_flag": "0", "flxempe_flag": "",
            "nwb_flag": "", "insu_optins": person.insuplc_admdvs, "emp_name": "",
            "mdtrt_cert_type": getattr(visit, "mdtrt_cert_type", "") or "02", "med_type": visit.med_type,
            "begndate": visit.begntime.isoformat(), "enddate": enddate.isoformat(), "setl_time": setl_time}
    info.update({name: yuan_of(fields[name]) for name in SETTLED_AMOUNTS})
    info.update({name: 0 for name in NOT_MODELLED})
    info.update({"acct_pay": yuan(acct_pay), "psn_cash_pay": yuan(psn_part - acct_pay), "balc": yuan(acct_balc_fen),
                 "medins_setl_id": medins_setl_id, "clr_optins": person.insuplc_admdvs, "clr_way": "1",
                 "clr_type": clr_type_of(visit.med_type), "exp_content": "",
                 "ratio": fields["ratio"], "coverage": fields["coverage"], "filing_id": fields.get("filing_id") or "",
                 "policy_version": fields["policy_version"], "catalog_version": fields["catalog_version"]})
    return info


def setldetail(fields: dict, insutype: str) -> list[dict]:
    code, name = FUND_PAY_TYPE.get(insutype, ("310100", "统筹基金"))
    hifp = yuan_of(fields["hifp_pay"])
    return [{"fund_pay_type": code, "fund_pay_type_name": name, "inscp_scp_amt": yuan_of(fields["inscp_scp_amt"]),
             "crt_payb_lmt_amt": hifp, "fund_payamt": hifp,
             "setl_proc_info": f"起付线 {fields['act_pay_dedc']}，支付比例 {fields['ratio']}，{fields['policy_version']}"}]


def reversal(info: dict, details: list[dict], *, setl_id: str, status: str, cancel_time: str) -> tuple[dict, list]:
    """2208/2305: the original settlement's setlinfo and setldetail with every amount negated (the refund
    slip), the reversal's own id and time. ``balc`` stays the balance as it is now."""
    negated = {key: (-value if isinstance(value, (int, float)) and key not in ("age", "balc") and value else value)
               for key, value in info.items()}
    negated.update({"setl_id": setl_id, "setl_status": status, "setl_time": cancel_time, "cancel_date": cancel_time[:10],
                    "refd_setl_flag": "1"})
    rows = [{key: (-value if isinstance(value, (int, float)) and value else value) for key, value in row.items()}
            for row in details]
    return negated, rows


def gender_of(certno: str) -> str:
    """GB 11643: the 17th digit is odd for men ("1"), even for women ("2")."""
    return ("1" if int(certno[16]) % 2 else "2") if len(certno) == 18 and certno[16].isdigit() else "9"


def birthday_of(certno: str) -> str:
    return f"{certno[6:10]}-{certno[10:12]}-{certno[12:14]}" if len(certno) == 18 else ""


def age_of(certno: str, on: date | None = None) -> int:
    """Whole years on ``on`` (today by default); 0 when the ID number carries no valid birth date."""
    try:
        born = date(int(certno[6:10]), int(certno[10:12]), int(certno[12:14]))
    except ValueError:
        return 0
    on = on or date.today()
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
