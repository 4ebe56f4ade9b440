"""B9 personal account (个人账户) over the real hospital interface: 1101 returns the balance, 2207 with
``acct_used_flag`` = 1 pays the person's share from it, 2208 gives it back; the ledger books it."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from tests.api.test_fsi_support import client_for, demo_ctx, file_filing, ok, server  # noqa: F401
from yidi.adapters.orm import PersonRow, SettlementRow
from yidi.client import fee_row
from yidi.services import ledger

LI_CERT = "420102197201012121"  # P003 李五, 武汉 职工, demo balance 3000.00 (illustrative)
SHANGHAI = "H31000000001"


def _yuan(*values) -> tuple:
    """Money as the interface sends it (numbers or strings) → Decimal yuan, to compare."""
    return tuple(Decimal(str(v)).quantize(Decimal("0.01")) for v in values)


def _balance(ctx) -> int:
    with ctx.unit_of_work() as session:
        return session.scalars(select(PersonRow.acct_balc).where(PersonRow.psn_no == "P003")).one()


def test_b9_personal_account_1101_balance_2207_acct_pay_2208_refund(demo_ctx, server):
    file_filing(demo_ctx, "P003", "resident_worker", "310000", "2023-02-03", "李五")
    his = client_for(server, SHANGHAI)
    try:
        info = ok(his.person_info("02", LI_CERT))
        assert _yuan(info["insuinfo"][0]["balc"]) == _yuan("3000.00")

        mdtrt_id = ok(his.register_outpatient("P003", "2023-03-01", insutype="310"))["data"]["mdtrt_id"]
        ok(his.outpatient_info(mdtrt_id, "11", "J06.9", psn_no="P003"))
        ok(his.upload_outpatient_fees([fee_row(mdtrt_id, "1", "X001", "3000.00", cnt=1, pric="3000.00",
                                               fee_ocur_time="2023-03-01 09:00:00")]))
        data = {"mdtrt_id": mdtrt_id, "psn_no": "P003", "mdtrt_cert_type": "02", "psn_setlway": "01",
                "acct_used_flag": "1", "insutype": "310"}
        pre = ok(his.call("2206", {"data": data}))["setlinfo"]
        assert _yuan(pre["acct_pay"], pre["psn_cash_pay"]) == _yuan("1200.00", "0.00")  # 3000 × 60% = 1800 from the fund
        assert _balance(demo_ctx) == 300000  # pre-settle changes nothing (S3)

        setl = ok(his.call("2207", {"data": data}))["setlinfo"]
        assert _yuan(setl["hifp_pay"], setl["psn_part_amt"], setl["acct_pay"], setl["psn_cash_pay"], setl["balc"]) == _yuan(
            "1800.00", "1200.00", "1200.00", "0.00", "1800.00")
        assert _balance(demo_ctx) == 180000
        with demo_ctx.unit_of_work() as session:
            assert session.get(SettlementRow, setl["setl_id"]).acct_pay == 120000
            assert ledger.trial_balance(session) == 0
            assert ledger.balance(session, ledger.account("420100", "个人账户支出")) == 120000

        ok(his.cancel_outpatient_settlement(setl["setl_id"], mdtrt_id, "P003"))
        assert _balance(demo_ctx) == 300000
        with demo_ctx.unit_of_work() as session:
            assert ledger.balance(session, ledger.account("420100", "个人账户支出")) == 0
    finally:
        his.close()
