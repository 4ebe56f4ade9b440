"""Cross-province business through two province nodes and the real NATS server (issue 16).

A hospital in 北京 (node 11) treats 张三, insured in 焦作 (node 41). The HIS talks to the 北京 node over real HTTP;
the 北京 node asks the 河南 node over NATS request/reply; each node has its own database.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.api.test_fsi_support import claim_papers, client_for, file_filing, ok, serving
from tests.conftest import _truncate
from tests.federation.conftest import sqlite_maker
from yidi.adapters.orm import InstitutionRow, MessageRow, PersonRow, RegionRow, SettlementRow, UsageRow, VisitRow
from yidi.adapters.orm_claims import ManualClaimRow
from yidi.adapters.orm_fed import PersonIndexRow, TreatmentSettlementRow
from yidi.client import fee_row
from yidi.domain.catalog import FeeItem
from yidi.services import treatment_entry
from yidi.federation.local import LocalFederation
from yidi.services import ledger
from yidi.services.settlements import SettleCommand

ZHANG_CERT = "410802195501011234"


def _yuan(amount) -> str:
    """An answer's amount as yuan text (the interface answers JSON numbers, HIS habit)."""
    return f"{float(amount):.2f}"


def _count(ctx, row_type, *where) -> int:
    with ctx.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(row_type).where(*where))


@pytest.fixture
def beijing_his(federation):
    beijing, henan = federation.nodes["11"], federation.nodes["41"]
    with henan.ctx.unit_of_work() as session:
        session.add(PersonRow(psn_no="P001", name="张三", certno=ZHANG_CERT, insuplc_admdvs="410800", insutype="310"))
    henan.index_persons()
    file_filing(henan.ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    with serving(beijing.ctx) as live:
        client = client_for(live)
        yield client
        client.close()


def _admit_and_upload(his) -> str:
    mdtrt_id = ok(his.admit("P001", "21", "2023-03-01", insutype="310"))["result"]["mdtrt_id"]
    ok(his.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X007", "8000.00", cnt=1, pric="8000.00"),
                                  fee_row(mdtrt_id, "2", "X004", 4000, cnt="10", pric="400.0")]))
    return mdtrt_id


def test_federation_cross_province_settle_and_cancel_over_nats(federation, beijing_his):
    beijing, henan = federation.nodes["11"].ctx, federation.nodes["41"].ctx
    info = ok(beijing_his.person_info("02", ZHANG_CERT))  # 1101: answered by the 河南 node
    assert info["baseinfo"]["psn_no"] == "P001" and info["baseinfo"]["certno"] == "410802********1234"
    assert [f["mdtrtarea_admvs"] for f in info["filings"]] == ["110000"] and "message" not in info

    mdtrt_id = _admit_and_upload(beijing_his)
    pre = ok(beijing_his.presettle_inpatient(mdtrt_id, "P001", medfee_sumamt="12000.00", endtime="2023-03-10"))
    assert _yuan(pre["setlinfo"]["hifp_pay"]) == "9435.00" and _count(henan, SettlementRow) == 0

    msgid = beijing_his.new_msgid()
    answer = beijing_his.settle_inpatient(mdtrt_id, "P001", medfee_sumamt=12000, endtime="2023-03-10", msgid=msgid)
    setl = ok(answer)["setlinfo"]
    assert (_yuan(setl["hifp_pay"]), _yuan(setl["psn_part_amt"]), setl["clr_optins"]) == ("9435.00", "2565.00", "410800")
    # the insured side: settlement, usage, fund liability and the msgid, on the 河南 node only
    with henan.unit_of_work() as session:
        row = session.get(SettlementRow, setl["setl_id"])
        assert (row.hifp_pay, row.msgid, row.mdtrtarea_admvs) == (943500, msgid, "110000")
        assert session.scalar(select(UsageRow.used_fen).where(UsageRow.psn_no == "P001")) == 943500
        assert session.get(MessageRow, msgid).infno == "F2304"
        assert ledger.trial_balance(session) == 0 and not ledger.unbalanced_entries(session)
    # the treatment side: its record of what its hospital is owed, the visit, the HIS's stored answer
    with beijing.unit_of_work() as session:
        record = session.get(TreatmentSettlementRow, setl["setl_id"])
        assert (record.fund_pay_sumamt, record.request_id, record.status) == (943500, msgid, "settled")
        assert session.get(VisitRow, mdtrt_id).state == "settled"
        assert session.get(MessageRow, msgid).infno == "2304"
    assert _count(beijing, SettlementRow) == 0 and _count(beijing, UsageRow) == 0

    # 3201 at the 北京 node counts its hospital's cross-province settlement (its side of it)
    today = date.today().isoformat()  # 3201 periods are by processing time
    totals = ok(beijing_his.reconcile_totals(today, today, medfee_sumamt="12000.00",
                                             fund_pay_sumamt="9435.00", fixmedins_setl_cnt=1))
    assert totals["stmt_totlrslt"]["stmt_rslt"] == "0", totals
    # a resend of the same msgid: the stored answer, nothing new on either side
    again = beijing_his.settle_inpatient(mdtrt_id, "P001", medfee_sumamt=12000, endtime="2023-03-10", msgid=msgid)
    assert again["output"] == answer["output"]
    assert _count(henan, SettlementRow) == 1 and _count(beijing, TreatmentSettlementRow) == 1

    cancelled = ok(beijing_his.cancel_inpatient_settlement(setl["setl_id"], mdtrt_id, "P001"))
    assert cancelled["setlinfo"]["setl_status"] == "cancelled" and _yuan(cancelled["setlinfo"]["hifp_pay"]) == "-9435.00"
    with henan.unit_of_work() as session:
        assert session.get(SettlementRow, setl["setl_id"]).status == "cancelled"
        assert session.scalar(select(UsageRow.used_fen).where(UsageRow.psn_no == "P001")) == 0
        assert ledger.trial_balance(session) == 0
    with beijing.unit_of_work() as session:
        assert session.get(TreatmentSettlementRow, setl["setl_id"]).status == "cancelled"
    twice = beijing_his.cancel_inpatient_settlement(setl["setl_id"], mdtrt_id, "P001")
    assert twice["infcode"] == -1 and twice["err_msg"].startswith("SETTLEMENT_ALREADY_CANCELLED")
    # the visit may be settled again, with the same numbers
    assert _yuan(ok(beijing_his.settle_inpatient(mdtrt_id, endtime="2023-03-10"))["setlinfo"]["hifp_pay"]) == "9435.00"


def test_federation_resend_after_treatment_node_failed_between_commits(federation, beijing_his):
    """The 河南 node committed, the 北京 node failed before its own commit: the HIS resends the same msgid and gets
    the one settlement — the 河南 node answers from its stored record, it does not settle twice."""
    beijing, henan = federation.nodes["11"].ctx, federation.nodes["41"].ctx
    mdtrt_id = _admit_and_upload(beijing_his)

    def die(_answer):
        raise RuntimeError("treatment node lost before its commit")

    beijing.hooks["after_insured_commit"] = die
    msgid = beijing_his.new_msgid()
    failed = beijing_his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid)
    assert failed["infcode"] == -1 and failed["err_msg"].startswith("SERVICE_UNAVAILABLE")
    assert _count(henan, SettlementRow) == 1 and _count(beijing, TreatmentSettlementRow) == 0
    with beijing.unit_of_work() as session:
        assert session.get(VisitRow, mdtrt_id).state != "settled" and session.get(MessageRow, msgid) is None

    del beijing.hooks["after_insured_commit"]
    setl = ok(beijing_his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid))["setlinfo"]
    with henan.unit_of_work() as session:
        (only,) = session.scalars(select(SettlementRow)).all()
        assert only.setl_id == setl["setl_id"] and only.status == "settled"
        assert session.scalar(select(UsageRow.used_fen).where(UsageRow.psn_no == "P001")) == 943500
    assert _count(beijing, TreatmentSettlementRow, TreatmentSettlementRow.setl_id == setl["setl_id"]) == 1


def test_federation_2601_reverses_on_both_sides_exactly_once(federation, beijing_his):
    beijing, henan = federation.nodes["11"].ctx, federation.nodes["41"].ctx
    mdtrt_id = _admit_and_upload(beijing_his)
    msgid = beijing_his.new_msgid()
    setl_id = ok(beijing_his.settle_inpatient(mdtrt_id, endtime="2023-03-10", msgid=msgid))["setlinfo"]["setl_id"]
    assert ok(beijing_his.reverse(msgid, "2304"))["result"]["rslt"] == "reversed"
    assert ok(beijing_his.reverse(msgid, "2304"))["result"]["rslt"] == "already_reversed"
    with henan.unit_of_work() as session:
        assert session.get(SettlementRow, setl_id).status == "reversed"
        assert session.scalar(select(UsageRow.used_fen).where(UsageRow.psn_no == "P001")) == 0
        assert ledger.trial_balance(session) == 0
    with beijing.unit_of_work() as session:
        assert session.get(TreatmentSettlementRow, setl_id).status == "reversed"


def test_federation_insured_node_down_gets_coded_answer_and_writes_nothing(federation, beijing_his):
    beijing = federation.nodes["11"].ctx
    mdtrt_id = _admit_and_upload(beijing_his)
    federation.nodes["41"].bridge.close()  # the 河南 node stops serving
    answer = beijing_his.settle_inpatient(mdtrt_id, endtime="2023-03-10")
    assert answer["infcode"] == -1 and answer["err_msg"].startswith("SERVICE_UNAVAILABLE")
    assert "参保地 410000" in answer["err_msg"]
    with beijing.unit_of_work() as session:
        assert session.get(VisitRow, mdtrt_id).state != "settled"
    assert _count(beijing, TreatmentSettlementRow) == 0
    federation._bridges.remove(federation.nodes["41"].bridge)


def test_federation_nodes_get_reference_data_from_the_hub_and_hold_only_their_persons(federation):
    beijing, henan, hub = federation.nodes["11"].ctx, federation.nodes["41"].ctx, federation.hub.ctx
    with hub.unit_of_work() as session:
        hub_regions = set(session.scalars(select(RegionRow.admdvs)))
        hub_institutions = set(session.scalars(select(InstitutionRow.fixmedins_code)))
    for node in (beijing, henan):
        with node.unit_of_work() as session:  # loaded from the hub's JetStream KV bucket, not a shared database
            assert set(session.scalars(select(RegionRow.admdvs))) == hub_regions
            assert set(session.scalars(select(InstitutionRow.fixmedins_code))) == hub_institutions
    with henan.unit_of_work() as session:
        session.add(PersonRow(psn_no="P001", name="张三", certno=ZHANG_CERT, insuplc_admdvs="410800", insutype="310"))
    assert federation.nodes["41"].index_persons() == 1
    with hub.unit_of_work() as session:
        assert session.get(PersonIndexRow, ZHANG_CERT).insuplc_admdvs == "410800"
    assert federation.nodes["11"].ctx.federation.locate(psn_no="P001") == "410800"
    assert _count(beijing, PersonRow) == 0


def test_federation_intra_province_business_never_leaves_its_node(federation):
    """焦作 person in a 郑州 hospital: settled on the 河南 node; not one message on the federation's subjects."""
    henan = federation.nodes["41"]
    with henan.ctx.unit_of_work() as session:
        session.add(PersonRow(psn_no="P001", name="张三", certno=ZHANG_CERT, insuplc_admdvs="410800", insutype="310"))
    henan.index_persons()
    file_filing(henan.ctx, "P001", "other_temporary", "410100", "2023-01-10", "张三")
    file_filing(henan.ctx, "P001", "other_temporary", "110000", "2023-01-10", "张三")
    seen: list[str] = []
    tap = federation._bridge("tap")

    async def record(msg):
        seen.append(msg.subject)

    tap.run(tap.nc.subscribe(f"{federation.names.prefix}.>", cb=record))
    tap.run(tap.nc.flush())
    cmd = SettleCommand(psn_no="P001", fixmedins_code="H41010000001", med_type="21", begntime=date(2023, 3, 1),
                        endtime=date(2023, 3, 10), items=(FeeItem("X007", 800000),))
    view = treatment_entry.settle(henan.ctx, cmd)
    tap.run(tap.nc.flush())
    assert view.status == "settled" and _count(henan.ctx, SettlementRow) == 1
    assert seen == []
    # the tap does see cross-province traffic (so the empty list above means something)
    cmd = SettleCommand(psn_no="P001", fixmedins_code="H11000000001", med_type="21", begntime=date(2023, 4, 1),
                        endtime=date(2023, 4, 10), items=(FeeItem("X007", 800000),))
    treatment_entry.settle(federation.nodes["11"].ctx, cmd)
    tap.run(tap.nc.flush())
    assert any(subject.endswith(".node.41.settle") for subject in seen)


@pytest.mark.postgres
def test_federation_caps_hold_when_two_provinces_settle_one_person_at_once(nats_url, tmp_path, pg_context):
    """北京 and 上海 hospitals settle 张三 (焦作, inpatient cap 300,000.00) at the same moment, 250,000.00 of fees
    each: the 河南 node (PostgreSQL) locks the person, so the fund pays at most the cap in total."""
    sqlite = sqlite_maker(tmp_path)

    def make(name: str):
        if name != "41":
            return sqlite(name)
        _truncate(pg_context)
        return pg_context

    with LocalFederation(make, url=nats_url) as federation:
        henan = federation.nodes["41"]
        with henan.ctx.unit_of_work() as session:
            session.add(PersonRow(psn_no="P001", name="张三", certno=ZHANG_CERT, insuplc_admdvs="410800",
                                  insutype="310"))
        henan.index_persons()
        file_filing(henan.ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
        file_filing(henan.ctx, "P001", "other_temporary", "310000", "2023-01-10", "张三")
        results: dict[str, object] = {}
        start = threading.Barrier(2)

        def settle(province: str, code: str) -> None:
            cmd = SettleCommand(psn_no="P001", fixmedins_code=code, med_type="21", begntime=date(2023, 3, 1),
                                endtime=date(2023, 3, 10), items=(FeeItem("X007", 25_000_000),))
            start.wait()
            try:
                results[province] = treatment_entry.settle(federation.nodes[province].ctx, cmd)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                results[province] = exc

        threads = [threading.Thread(target=settle, args=("11", "H11000000001")),
                   threading.Thread(target=settle, args=("31", "H31000000001"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert all(hasattr(view, "setl_id") for view in results.values()), results
        with henan.ctx.unit_of_work() as session:
            paid = session.scalars(select(SettlementRow.hifp_pay)).all()
            used = session.scalar(select(func.sum(UsageRow.used_fen)).where(UsageRow.psn_no == "P001"))
        assert len(paid) == 2 and sum(paid) == used <= 30_000_000
        assert min(paid) < max(paid)  # the later one met the cap


def test_federation_estimate_for_a_visitor_is_decided_at_the_insured_node_and_claims_are_made_there(
        federation, beijing_his):
    """A 北京 desk estimates for 张三: the 河南 node computes with his filing, which the 北京 node does not hold.
    A manual claim (零星报销) entered at the 北京 node is made at his insured node, whose agency reviews and pays it:
    the 北京 node sends it there and writes nothing of it (tests/federation/test_pages_across_nodes.py follows it
    through the 焦作 clerk's queue)."""
    import httpx

    from yidi.adapters.orm import UserRow
    from yidi.services.users import hash_password

    beijing = federation.nodes["11"].ctx
    with beijing.unit_of_work() as session:
        session.add(UserRow(username="desk-beijing", password_hash=hash_password("pw-desk"), role="hospital",
                            admdvs="110000", fixmedins_code="H11000000001", display_name="协和医保办"))
    visit = {"psn_no": "P001", "fixmedins_code": "H11000000001", "med_type": "21", "begntime": "2023-03-01",
             "endtime": "2023-03-10", "items": [{"code": "X007", "amount": "8000.00"}, {"code": "X004", "amount": "4000.00"}]}
    # an estimate naming a person needs the desk of a hospital treating them (issue 13): admit him first
    assert httpx.post(f"{beijing_his.base_url}/api/benefit/estimate", json=visit, timeout=30).status_code == 401
    ok(beijing_his.admit("P001", "21", "2023-03-01", insutype="310"))
    estimate = httpx.post(f"{beijing_his.base_url}/api/benefit/estimate", json=visit, auth=("desk-beijing", "pw-desk"),
                          timeout=30)
    assert estimate.status_code == 200, estimate.text
    assert estimate.json()["hifp_pay"] == "9435.00"
    claim = visit | claim_papers()
    response = httpx.post(f"{beijing_his.base_url}/api/claims/manual", json=claim, auth=("desk-beijing", "pw-desk"),
                          timeout=30)
    assert response.status_code == 200 and response.json()["insuplc_admdvs"] == "410800", response.text
    assert _count(federation.nodes["41"].ctx, ManualClaimRow) == 1 and _count(beijing, ManualClaimRow) == 0
    assert _count(beijing, SettlementRow) == 0 and _count(beijing, TreatmentSettlementRow) == 0


def test_federation_node_readiness_checks_its_nats_connection(federation):
    """/health/ready on a province node: ready while its NATS connection is up; NATS_UNAVAILABLE (503) once the
    connection is gone — the probe an operator's load balancer reads (issue 19)."""
    import httpx

    beijing = federation.nodes["11"].ctx
    with serving(beijing) as live:
        ready = httpx.get(f"{live.url}/health/ready", timeout=10)
        assert ready.status_code == 200 and ready.json()["nats"] == "connected"
        link = beijing.federation
        link.bridge.run(link.bridge.nc.close())
        down = httpx.get(f"{live.url}/health/ready", timeout=10)
        assert down.status_code == 503 and down.json()["code"] == "NATS_UNAVAILABLE"
