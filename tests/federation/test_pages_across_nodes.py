"""Pages and API on a real two-node federation (issue 16): what each node's desks, clerks and supervisors see.

A hospital in 北京 (node 11) treats 张三, insured in 焦作 (node 41), through the HIS over real HTTP; the 北京 node asks
the 河南 node over the real NATS server. The 北京 desk lists, opens and prints its side of the settlement and files
his manual claim (零星报销), which is made at the 河南 node and reviewed by the 焦作 clerk there. The 北京 node's clerks
and supervisors see nothing of 张三, whose desk copy the 北京 node holds since his admission.
"""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from tests.api.test_fsi_support import claim_papers, client_for, file_filing, ok, serving
from tests.federation.test_cross_province import ZHANG_CERT, _admit_and_upload
from tests.security.test_h13_access import csrf_of, page_login
from yidi.adapters.orm import PersonRow, SettlementRow, UserRow
from yidi.adapters.orm_claims import ClaimAttachmentRow, ManualClaimRow
from yidi.adapters.orm_fed import TreatmentSettlementRow
from yidi.domain.catalog import FeeItem
from yidi.federation import messages
from yidi.services.manual_claims import Attachment, SubmitCommand
from yidi.services.users import hash_password


def _users(ctx, *users: tuple) -> None:
    with ctx.unit_of_work() as session:
        for username, role, admdvs, code in users:
            session.add(UserRow(username=username, password_hash=hash_password("pw"), role=role, admdvs=admdvs,
                                fixmedins_code=code, display_name=username))


def _count(ctx, row_type, *where) -> int:
    with ctx.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(row_type).where(*where))


@pytest.fixture
def two_nodes(federation):
    """张三 insured at the 河南 node with a filing to 北京; both nodes served over HTTP; the users of each node."""
    beijing, henan = federation.nodes["11"], federation.nodes["41"]
    with henan.ctx.unit_of_work() as session:
        session.add(PersonRow(psn_no="P001", name="张三", certno=ZHANG_CERT, insuplc_admdvs="410800", insutype="310"))
    henan.index_persons()
    file_filing(henan.ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    _users(beijing.ctx, ("desk-xiehe", "hospital", "110000", "H11000000001"),
           ("desk-other", "hospital", "110000", "H11000000002"), ("clerk-beijing", "agency", "110000", None),
           ("supervisor-national", "supervisor", None, None), ("clerk-jiaozuo-here", "agency", "410800", None))
    _users(henan.ctx, ("clerk-jiaozuo", "agency", "410800", None))
    with serving(beijing.ctx) as at_beijing, serving(henan.ctx) as at_henan:
        his = client_for(at_beijing)
        yield {"beijing": beijing, "henan": henan, "his": his, "bj": at_beijing.url, "hn": at_henan.url}
        his.close()


def test_federation_desk_lists_opens_prints_and_cancels_its_side_of_a_visitors_settlement(two_nodes):
    his, bj, henan = two_nodes["his"], two_nodes["bj"], two_nodes["henan"].ctx
    mdtrt_id = _admit_and_upload(his)
    setl_id = ok(his.settle_inpatient(mdtrt_id, endtime="2023-03-10"))["setlinfo"]["setl_id"]
    desk = page_login(bj, "desk-xiehe", "pw")

    day = desk.get("/desk/reconciliation")  # 当日对账: the visitor's settlement is what the hospital is owed too
    assert day.status_code == 200 and setl_id in day.text and "张三" in day.text
    assert 'data-testid="recon-fund-settled">9,435.00' in day.text
    assert setl_id in desk.get(f"/desk/visits/{mdtrt_id}").text
    page = desk.get(f"/desk/settlements/{setl_id}")  # the insured node's answer, the desk copy of the person
    assert page.status_code == 200, page.text[:500]
    assert "焦作" in page.text and "410802********1234" in page.text and ZHANG_CERT not in page.text
    assert "9,435.00" in page.text and "410800@" in page.text  # the insured region's policy version, from the trace
    slip = desk.get(f"/desk/settlements/{setl_id}/slip.pdf")
    assert slip.status_code == 200 and slip.headers["content-type"] == "application/pdf"

    listed = httpx.get(f"{bj}/api/desk/settlements", auth=("desk-xiehe", "pw"), timeout=30).json()
    (entry,) = listed["settlements"]
    assert (entry["setl_id"], entry["cross_province"], entry["insuplc_admdvs"]) == (setl_id, True, "410800")
    assert listed["totals"]["settled"]["fund_pay_sumamt"] == "9435.00"
    detail = httpx.get(f"{bj}/api/desk/settlements/{setl_id}", auth=("desk-xiehe", "pw"), timeout=30).json()
    assert detail["answer"]["hifp_pay"] == "9435.00" and detail["answer"]["trace"]
    assert detail["psn_name"] == "张三" and "certno" not in detail and "filings" not in detail

    # another hospital of the same node: the settlement does not exist for it
    other = page_login(bj, "desk-other", "pw")
    assert other.get(f"/desk/settlements/{setl_id}").status_code == 404
    assert setl_id not in other.get("/desk/reconciliation").text
    refused = httpx.get(f"{bj}/api/desk/settlements/{setl_id}", auth=("desk-other", "pw"), timeout=30)
    assert refused.status_code == 404 and refused.json()["code"] == "SETTLEMENT_NOT_FOUND"
    assert httpx.get(f"{bj}/api/desk/settlements", auth=("desk-other", "pw"), timeout=30).json()["settlements"] == []

    # a manual claim for the visit its node settled directly: the same refusal as on one node
    claimed = httpx.post(f"{bj}/api/claims/manual", auth=("desk-xiehe", "pw"), timeout=30,
                         json={"mdtrt_id": mdtrt_id, "endtime": "2023-03-10", **claim_papers()})
    assert claimed.json()["code"] == "DUPLICATE_CLAIM" and setl_id in claimed.json()["message"], claimed.text

    # 撤销 from the desk's page: both sides reverse, the page shows it
    cancelled = desk.post(f"/desk/settlements/{setl_id}/cancel",
                          data={"csrf_token": csrf_of(desk, f"/desk/settlements/{setl_id}")})
    assert cancelled.status_code == 303
    with henan.unit_of_work() as session:
        assert session.get(SettlementRow, setl_id).status == "cancelled"
    assert _count(two_nodes["beijing"].ctx, TreatmentSettlementRow, TreatmentSettlementRow.status == "cancelled") == 1
    assert "已撤销" in desk.get(f"/desk/settlements/{setl_id}").text


def test_federation_visitors_manual_claim_entered_at_the_treatment_node_is_made_at_the_insured_node(two_nodes):
    """The 北京 desk files 张三's 零星报销 for a visit it uploaded: the claim, its files and its review live at the
    河南 node; the 焦作 clerk there sees it in the queue and approves it; the visit cannot then be settled again."""
    his, bj, hn = two_nodes["his"], two_nodes["bj"], two_nodes["hn"]
    beijing, henan = two_nodes["beijing"].ctx, two_nodes["henan"].ctx
    mdtrt_id = _admit_and_upload(his)
    papers = claim_papers()
    submitted = httpx.post(f"{bj}/api/claims/manual", auth=("desk-xiehe", "pw"), timeout=30,
                           json={"mdtrt_id": mdtrt_id, "endtime": "2023-03-10", **papers})
    assert submitted.status_code == 200, submitted.text
    claim = submitted.json()
    assert claim["status"] == "submitted" and claim["mdtrt_id"] == mdtrt_id and claim["medfee_sumamt"] == "12000.00"
    assert [a["kind"] for a in claim["attachments"]] == ["invoice", "fee_list"]
    with henan.unit_of_work() as session:
        row = session.get(ManualClaimRow, claim["claim_id"])
        assert (row.psn_no, row.insuplc_admdvs, row.fixmedins_code) == ("P001", "410800", "H11000000001")
        files = session.scalars(select(ClaimAttachmentRow.content)).all()
        assert files == [b"%PDF-1.4\n%%EOF\n"] * 2  # the files crossed through the object store, whole
    assert _count(beijing, ManualClaimRow) == 0  # nothing of the claim at the treatment node

    # the same refusal as on one node for a second claim of the visit while the first waits
    again = httpx.post(f"{bj}/api/claims/manual", auth=("desk-xiehe", "pw"), timeout=30,
                       json={"mdtrt_id": mdtrt_id, "endtime": "2023-03-10", **papers})
    assert again.status_code == 409 and again.json()["code"] == "CLAIM_PENDING", again.text
    assert claim["claim_id"] in again.json()["message"]

    queue = httpx.get(f"{hn}/api/claims/queue", auth=("clerk-jiaozuo", "pw"), timeout=30).json()["claims"]
    assert [c["claim_id"] for c in queue] == [claim["claim_id"]]
    clerk = page_login(hn, "clerk-jiaozuo", "pw")  # the clerk's pages at the insured node: queue and review
    assert claim["claim_id"] in clerk.get("/agency/claims").text
    review = clerk.get(f"/agency/claims/{claim['claim_id']}")
    assert review.status_code == 200 and "张三" in review.text and "9,435.00" in review.text, review.text[:300]
    approved = httpx.post(f"{hn}/api/claims/manual/{claim['claim_id']}/approve", auth=("clerk-jiaozuo", "pw"),
                          json={}, timeout=30)
    assert approved.status_code == 200, approved.text
    setl_id = approved.json()["setl_id"]
    with henan.unit_of_work() as session:
        paid = session.get(SettlementRow, setl_id)
        assert (paid.kind, paid.status, paid.mdtrt_id) == ("manual", "settled", mdtrt_id)
    direct = his.settle_inpatient(mdtrt_id, endtime="2023-03-10")  # the visit is paid once (S4)
    assert direct["infcode"] == -1 and direct["err_msg"].startswith("DUPLICATE_CLAIM"), direct


def test_federation_claim_request_is_idempotent_on_its_request_id(two_nodes, federation):
    """The insured node answers a repeated ``node.41.claim`` (a resend, a redelivery) from its stored claim."""
    beijing = two_nodes["beijing"]
    bridge, names = beijing.bridge, federation.names
    content = b"%PDF-1.4\n%%EOF\n"
    cmd = SubmitCommand(psn_no="P001", bank_name="中国银行", bank_account="6217852000012345678", account_name="张三",
                        attachments=(Attachment("invoice", "i.pdf", "application/pdf", content),
                                     Attachment("fee_list", "f.pdf", "application/pdf", content)),
                        submitted_on=date.today(), actor="desk-xiehe", fixmedins_code="H11000000001", med_type="11",
                        begntime=date(2023, 5, 4), endtime=date(2023, 5, 4), items=(FeeItem("X004", 40000),))
    import hashlib

    files = []
    for index, attachment in enumerate(cmd.attachments):
        bridge.object_put(names.claim_files_bucket, f"LBRTEST.{index}", attachment.content, ttl=600)
        files.append({"object": f"LBRTEST.{index}", "sha256": hashlib.sha256(content).hexdigest(),
                      "kind": attachment.kind, "filename": attachment.filename,
                      "content_type": attachment.content_type})
    body = {"request_id": "LBRTEST", "cmd": messages.encode_claim_command(cmd, files)}
    first = bridge.request(names.node("41", "claim"), body, timeout=10)
    second = bridge.request(names.node("41", "claim"), body, timeout=10)
    assert first == second and first["claim"]["status"] == "submitted"
    assert _count(two_nodes["henan"].ctx, ManualClaimRow) == 1
    with pytest.raises(Exception):  # the store's copy is gone once the claim committed
        bridge.object_get(names.claim_files_bucket, "LBRTEST.0")
    changed = {**body, "cmd": {**body["cmd"], "account_name": "李四"}}
    conflict = bridge.request(names.node("41", "claim"), changed, timeout=10)
    assert conflict["error"]["code"] == "MSGID_CONFLICT"


def test_federation_clerks_and_supervisors_of_a_node_see_nothing_of_other_provinces_persons(two_nodes):
    """The 北京 node holds a desk copy of 张三 (admitted there) and its side of his settlement; its clerk, a national
    supervisor account and a 焦作 clerk account on that node find nothing of him in pages or API. The 焦作 clerk at
    the 河南 node does (so the searches below can find him where he lives)."""
    his, bj, hn = two_nodes["his"], two_nodes["bj"], two_nodes["hn"]
    mdtrt_id = _admit_and_upload(his)
    ok(his.settle_inpatient(mdtrt_id, endtime="2023-03-10"))
    assert _count(two_nodes["beijing"].ctx, PersonRow, PersonRow.psn_no == "P001") == 1  # the desk copy is here

    at_home = page_login(hn, "clerk-jiaozuo", "pw").get("/agency/search", params={"q": "P001"})
    assert "张三" in at_home.text
    for username in ("clerk-beijing", "supervisor-national"):
        clerk = page_login(bj, username, "pw")
        for query in ("P001", "张三", ZHANG_CERT):
            found = clerk.get("/agency/search", params={"q": query})
            shown = found.text.replace(f'value="{query}"', "")  # the search box echoes the query
            assert found.status_code == 200 and "本地区没有匹配的参保人" in shown, (username, query)
            assert "张三" not in shown and "P001" not in shown and "1234" not in shown, (username, query)
        for path in ("/supervision", "/stats") if username == "supervisor-national" else ("/agency", "/agency/claims"):
            shown = clerk.get(path)
            assert shown.status_code == 200 and "张三" not in shown.text, (username, path)
        auth = (username, "pw")
        me = httpx.get(f"{bj}/api/me", auth=auth, timeout=30).json()
        assert me["admdvs"] in ("110000",), me  # a national account on a province node acts for the node's province
        assert httpx.get(f"{bj}/api/filings", params={"psn_no": "P001"}, auth=auth, timeout=30).json()["count"] == 0
        foreign = httpx.get(f"{bj}/api/filings", params={"insuplc_admdvs": "410800"}, auth=auth, timeout=30)
        assert foreign.status_code == 403, foreign.text
        assert httpx.get(f"{bj}/api/claims/queue", auth=auth, timeout=30).json()["claims"] == []
    # an account of another province's region on this node acts for nothing here
    refused = httpx.post(f"{bj}/api/login", json={"username": "clerk-jiaozuo-here", "password": "pw"}, timeout=30)
    assert refused.status_code == 403 and "不由本省节点管理" in refused.text, refused.text
    assert httpx.get(f"{bj}/api/claims/queue", auth=("clerk-jiaozuo-here", "pw"), timeout=30).status_code == 403


def test_federation_outpatient_2206_2207_2208_travel_to_the_insured_node(two_nodes):
    """门诊 across provinces: 2201/2204 at the 北京 node, 2206 and 2207 computed and recorded at the 河南 node, a resend
    of 2207's msgid answered from both sides' records, 2208 reversing on both sides exactly once."""
    from yidi.client import fee_row

    his, beijing, henan = two_nodes["his"], two_nodes["beijing"].ctx, two_nodes["henan"].ctx
    mdtrt_id = ok(his.register_outpatient("P001", "2023-04-02 09:00:00", insutype="310"))["data"]["mdtrt_id"]
    ok(his.outpatient_info(mdtrt_id, "11", "J06.9", psn_no="P001"))
    ok(his.upload_outpatient_fees([fee_row(mdtrt_id, "a1", "X001", "60.00", cnt=2, pric="30"),
                                   fee_row(mdtrt_id, "a2", "X003", "3500.00", cnt=1, pric="3500"),
                                   fee_row(mdtrt_id, "a3", "X005", "100.00", cnt="1.0", pric=100)]))
    pre = ok(his.presettle_outpatient(mdtrt_id, "P001", medfee_sumamt="3660.00"))["setlinfo"]
    assert _count(henan, SettlementRow) == 0 and pre["overlmt_selfpay"] == 500.0
    msgid = his.new_msgid()
    answer = his.settle_outpatient(mdtrt_id, "P001", medfee_sumamt="3660.00", msgid=msgid)
    setl = ok(answer)["setlinfo"]
    assert setl["hifp_pay"] == pre["hifp_pay"] and setl["psn_part_amt"] == pre["psn_part_amt"]
    with henan.unit_of_work() as session:
        row = session.get(SettlementRow, setl["setl_id"])
        assert (row.med_type, row.msgid, row.mdtrtarea_admvs) == ("11", msgid, "110000")
    assert his.settle_outpatient(mdtrt_id, "P001", medfee_sumamt="3660.00", msgid=msgid)["output"] == answer["output"]
    assert _count(henan, SettlementRow) == 1 and _count(beijing, TreatmentSettlementRow) == 1
    ok(his.cancel_outpatient_settlement(setl["setl_id"], mdtrt_id))
    twice = his.cancel_outpatient_settlement(setl["setl_id"], mdtrt_id)
    assert twice["infcode"] == -1 and twice["err_msg"].startswith("SETTLEMENT_ALREADY_CANCELLED")
    with henan.unit_of_work() as session:
        assert session.get(SettlementRow, setl["setl_id"]).status == "cancelled"
    assert _count(beijing, TreatmentSettlementRow, TreatmentSettlementRow.status == "cancelled") == 1
