"""The interface's output shapes (setlinfo, setldetail, per-row 费用分割). Each field is defined once in
docs/interface.md. Money leaves as yuan strings with two decimals; ``fund_pay_sumamt`` = ``hifp_pay``
(the personal account is not a fund here: ``acct_pay`` is reported separately and is 0 in the baseline)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from yidi.adapters.orm import PersonRow, VisitRow
from yidi.domain.money import fen_to_yuan, yuan_to_fen
from yidi.services.reconciliation import clr_type_of
from yidi.services.reference import mask_certno
from yidi.services.visits import RowSplit

FUND_PAY_TYPE = {"310": ("310100", "职工基本医疗保险统筹基金"), "390": ("390100", "城乡居民基本医疗保险基金")}
ZERO = "0.00"


def now_text() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def prop_text(bp: int) -> str:
    """Self-pay share as the interface writes it: 2000 bp → "0.20", 1250 bp → "0.125"."""
    share = Decimal(bp) / 10000
    return f"{share:.2f}" if bp % 100 == 0 else f"{share.normalize():f}"


def fee_row(entry: RowSplit) -> dict:
    line, split = entry.line, entry.split
    return {
        "feedetl_sn": line.feedetl_sn, "init_feedetl_sn": line.init_feedetl_sn or "",
        "med_list_codg": line.med_list_codg, "medins_list_codg": line.medins_list_codg, "list_name": split.name,
        "det_item_fee_sumamt": fen_to_yuan(line.amount_fen), "cnt": str(line.cnt),
        "pric": str(line.pric) if line.pric is not None else "",
        "med_chrgitm_type": split.med_chrgitm_type, "chrgitm_lv": split.chrgitm_lv,
        "selfpay_prop": prop_text(split.selfpay_prop_bp),
        "fulamt_ownpay_amt": fen_to_yuan(split.fulamt_ownpay_fen), "overlmt_amt": fen_to_yuan(split.overlmt_fen),
        "preselfpay_amt": fen_to_yuan(split.preselfpay_fen), "inscp_scp_amt": fen_to_yuan(split.inscp_fen),
    }


def setlinfo(fields: dict, visit: VisitRow, person: PersonRow, *, setl_id: str, setl_time: str,
             acct_balc_fen: int) -> dict:
    """``fields`` are yuan strings from services.settlements (pre-settle result or settled row)."""
    enddate: date = fields["_endtime"]
    acct_pay = fields.get("acct_pay", ZERO)
    psn_part = fields["psn_part_amt"]
    return {
        "setl_id": setl_id, "mdtrt_id": visit.mdtrt_id, "psn_no": person.psn_no, "psn_name": person.name,
        "psn_cert_type": "01", "certno": mask_certno(person.certno), "gend": gender_of(person.certno),
        "brdy": birthday_of(person.certno), "insutype": person.insutype, "psn_type": "", "med_type": visit.med_type,
        "begndate": visit.begntime.isoformat(), "enddate": enddate.isoformat(), "setl_time": setl_time,
        "medfee_sumamt": fields["medfee_sumamt"], "fulamt_ownpay_amt": fields["fulamt_ownpay_amt"],
        "overlmt_selfpay": fields["overlmt_selfpay"], "preselfpay_amt": fields["preselfpay_amt"],
        "inscp_scp_amt": fields["inscp_scp_amt"], "first_selfpay": fields["first_selfpay"],
        "act_pay_dedc": fields["act_pay_dedc"], "hifp_pay": fields["hifp_pay"],
        "pool_prop_selfpay": fields["pool_prop_selfpay"], "cvlserv_pay": ZERO, "hifes_pay": ZERO,
        "hifmi_pay": ZERO, "hifob_pay": ZERO, "maf_pay": ZERO, "oth_pay": ZERO,
        "fund_pay_sumamt": fields["fund_pay_sumamt"], "psn_part_amt": psn_part, "acct_pay": acct_pay,
        "psn_cash_pay": fen_to_yuan(_fen(psn_part) - _fen(acct_pay)), "hosp_part_amt": ZERO,
        "balc": fen_to_yuan(acct_balc_fen), "acct_mulaid_pay": ZERO,
        "clr_optins": person.insuplc_admdvs, "clr_way": "1", "clr_type": clr_type_of(visit.med_type),
        "ratio": fields["ratio"], "coverage": fields["coverage"], "filing_id": fields.get("filing_id") or "",
        "policy_version": fields["policy_version"], "catalog_version": fields["catalog_version"],
    }


def setldetail(fields: dict, insutype: str) -> list[dict]:
    code, name = FUND_PAY_TYPE.get(insutype, ("310100", "统筹基金"))
    return [{"fund_pay_type": code, "fund_pay_type_name": name, "inscp_scp_amt": fields["inscp_scp_amt"],
             "crt_payb_lmt_amt": fields["hifp_pay"], "fund_payamt": fields["hifp_pay"],
             "setl_proc_info": f"起付线 {fields['act_pay_dedc']}，支付比例 {fields['ratio']}，{fields['policy_version']}"}]


def _fen(yuan: str) -> int:
    return yuan_to_fen(yuan)


def gender_of(certno: str) -> str:
    """GB 11643: the 17th digit is odd for men ("1"), even for women ("2")."""
    return ("1" if int(certno[16]) % 2 else "2") if len(certno) == 18 and certno[16].isdigit() else "9"


def birthday_of(certno: str) -> str:
    return f"{certno[6:10]}-{certno[10:12]}-{certno[12:14]}" if len(certno) == 18 else ""
