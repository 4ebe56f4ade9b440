"""S4 零星报销 reviewed, not paid on submission (issue 15, issue 13 "Money"): over HTTP, SQLite and PostgreSQL.

Submission stores the claim and its files and pays nothing; the insured region's clerk reviews the calculation
and the files and approves (the payment is booked once) or rejects with a reason; the hospital cannot cancel it.
"""

from __future__ import annotations

import base64
import threading
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select, update

from tests.api.test_fsi_support import client_for, demo_ctx, file_filing, ok, row_counts, server  # noqa: F401
from yidi.adapters.orm import SettlementRow, UsageRow
from yidi.adapters.orm_claims import ManualClaimRow
from yidi.client import fee_row
from yidi.config import get_settings
from yidi.services import ledger
from yidi.services.verify import verify
from yidi.services.users import create_user

WUHAN_LI = "P003"  # 武汉职工 (420100), treated in Shanghai
SHANGHAI = "H31000000001"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PERSON = ("P003", "pw-li")
CLERK = ("clerk-wh", "pw-clerk")  # 武汉: the person's insured region
OTHER_CLERK = ("clerk-jz", "pw-clerk")  # 焦作: another region


def _file(kind: str, content: bytes, name: str, content_type: str = "application/pdf") -> dict:
    return {"kind": kind, "filename": name, "content_type": content_type,
            "content_base64": base64.b64encode(content).decode()}


def _claim(**overrides) -> dict:
    body = {"psn_no": WUHAN_LI, "fixmedins_code": SHANGHAI, "med_type": "21", "begntime": "2023-02-01",
            "endtime": "2023-02-05", "items": [{"code": "X007", "amount": "8000.00"}, {"code": "X004", "amount": "4000.00"}],
            "bank_name": "中国银行武汉分行", "bank_account": "6217 8520 0001 2345 678", "account_name": "李五",
            "attachments": [_file("invoice", PDF, "发票.pdf"), _file("fee_list", PNG, "清单.png", "image/png")]}
    return body | overrides


def _users(ctx) -> None:
    create_user(ctx, username=PERSON[0], password=PERSON[1], role="person", admdvs="420100", psn_no=WUHAN_LI)
    create_user(ctx, username=CLERK[0], password=CLERK[1], role="agency", admdvs="420100")
    create_user(ctx, username=OTHER_CLERK[0], password=OTHER_CLERK[1], role="agency", admdvs="410800")


def _money(ctx) -> dict:
    """Everything a payment writes: settlements, usage, ledger rows (and the usage total)."""
    counts = row_counts(ctx)
    with ctx.unit_of_work() as session:
        used = session.scalar(select(func.coalesce(func.sum(UsageRow.used_fen), 0)))
    return {key: counts[key] for key in ("settlements", "usage", "journal_entries", "postings")} | {"used": used}


def _submit(server, body: dict | None = None) -> httpx.Response:
    return httpx.post(f"{server.url}/api/claims/manual", json=body or _claim(), auth=PERSON, timeout=30)


def test_s4_submission_pays_nothing_and_approval_pays_exactly_once(demo_ctx, server):
    _users(demo_ctx)
    file_filing(demo_ctx, WUHAN_LI, "resident_worker", "310000", "2023-01-20", "李五")
    before = _money(demo_ctx)
    submitted = _submit(server)
    assert submitted.status_code == 200, submitted.text
    claim = submitted.json()
    assert claim["status"] == "submitted" and claim["setl_id"] is None and claim["medfee_sumamt"] == "12000.00"
    assert date.fromisoformat(claim["due_date"]) > date.fromisoformat(claim["submitted_on"])
    assert claim["bank_account"] == "6217852000012345678" and len(claim["attachments"]) == 2
    assert _money(demo_ctx) == before  # nothing paid, no usage, no ledger entry on submission

    # the clerk's queue and review: the calculation as it would be paid, with its trace; the files; the filings
    queue = httpx.get(f"{server.url}/api/claims/queue", auth=CLERK).json()["claims"]
    assert [c["claim_id"] for c in queue] == [claim["claim_id"]]
    review = httpx.get(f"{server.url}/api/claims/manual/{claim['claim_id']}/review", auth=CLERK).json()
    assert review["refusal"] is None and review["calculation"]["medfee_sumamt"] == "12000.00"
    assert review["calculation"]["trace"] and review["calculation"]["policy_version"]
    assert [f["filing_type"] for f in review["filings"]] == ["resident_worker"]
    invoice = review["claim"]["attachments"][0]
    download = httpx.get(f"{server.url}/api/claims/manual/{claim['claim_id']}/attachments/{invoice['id']}",
                         auth=CLERK)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert _money(demo_ctx) == before  # reviewing writes nothing either

    approved = httpx.post(f"{server.url}/api/claims/manual/{claim['claim_id']}/approve", json={}, auth=CLERK)
    assert approved.status_code == 200, approved.text
    paid = approved.json()
    assert paid["status"] == "approved" and paid["setl_id"].startswith("LX")
    assert paid["settlement"]["hifp_pay"] == review["calculation"]["hifp_pay"]  # what the clerk saw is paid
    after = _money(demo_ctx)
    assert after["settlements"] == before["settlements"] + 1 and after["journal_entries"] == before["journal_entries"] + 1
    assert after["used"] - before["used"] == round(float(paid["settlement"]["hifp_pay"]) * 100)

    again = httpx.post(f"{server.url}/api/claims/manual/{claim['claim_id']}/approve", json={}, auth=CLERK)
    assert again.status_code == 200 and again.json()["setl_id"] == paid["setl_id"]
    assert _money(demo_ctx) == after  # a second approval books nothing
    with demo_ctx.unit_of_work() as session:
        assert ledger.trial_balance(session) == 0
    # the person sees it; the transfer is recorded once
    mine = httpx.get(f"{server.url}/api/claims/manual/{claim['claim_id']}", auth=PERSON).json()
    assert mine["status"] == "approved" and mine["setl_id"] == paid["setl_id"]
    transferred = httpx.post(f"{server.url}/api/claims/manual/{claim['claim_id']}/paid",
                             json={"payment_ref": "TR20230301001"}, auth=CLERK)
    assert transferred.json()["status"] == "paid"
    assert _money(demo_ctx) == after


def test_s4_concurrent_approvals_pay_once(demo_ctx, server):
    _users(demo_ctx)
    file_filing(demo_ctx, WUHAN_LI, "resident_worker", "310000", "2023-01-20", "李五")
    claim_id = _submit(server).json()["claim_id"]
    answers: list[httpx.Response] = []

    def approve() -> None:
        answers.append(httpx.post(f"{server.url}/api/claims/manual/{claim_id}/approve", json={}, auth=CLERK,
                                  timeout=60))

    threads = [threading.Thread(target=approve) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert len({a.json()["setl_id"] for a in answers}) == 1
    with demo_ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(SettlementRow)) == 1
        assert ledger.trial_balance(session) == 0


def test_s4_the_unfiled_200000_claim_is_not_paid_and_is_rejected_with_a_reason(demo_ctx, server):
    """Issue 13's attack: no filing, no admission, 200,000.00 claimed — today paid 152,320.00 at once."""
    _users(demo_ctx)
    before = _money(demo_ctx)
    claim = _submit(server, _claim(items=[{"code": "X007", "amount": "200000.00"}])).json()
    assert claim["status"] == "submitted" and _money(demo_ctx) == before
    review = httpx.get(f"{server.url}/api/claims/manual/{claim['claim_id']}/review", auth=CLERK).json()
    assert review["calculation"] is None and review["refusal"]["code"] == "NOT_FILED"  # what approval would meet
    refused = httpx.post(f"{server.url}/api/claims/manual/{claim['claim_id']}/approve", json={}, auth=CLERK)
    assert refused.status_code == 409 and refused.json()["code"] == "NOT_FILED"
    assert _money(demo_ctx) == before  # the failed approval left nothing behind
    no_reason = httpx.post(f"{server.url}/api/claims/manual/{claim['claim_id']}/reject", json={}, auth=CLERK)
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "INVALID_INPUT"
    assert "原因" in no_reason.json()["message"]
    rejected = httpx.post(f"{server.url}/api/claims/manual/{claim['claim_id']}/reject",
                          json={"reason": "未办理异地就医备案，请补办备案后重新申请"}, auth=CLERK)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    mine = httpx.get(f"{server.url}/api/claims/manual/{claim['claim_id']}", auth=PERSON).json()
    assert mine["status"] == "rejected" and mine["reason"].startswith("未办理异地就医备案")
    late = httpx.post(f"{server.url}/api/claims/manual/{claim['claim_id']}/approve", json={}, auth=CLERK)
    assert late.status_code == 409 and late.json()["code"] == "CLAIM_ALREADY_DECIDED"
    assert "已审核" in late.json()["message"]
    assert _money(demo_ctx) == before
    # a rejected claim does not block a new, corrected one for the same visit
    assert _submit(server, _claim(items=[{"code": "X007", "amount": "200000.00"}])).status_code == 200


@pytest.mark.parametrize("attachments, status, code, words", [
    ([_file("invoice", b"GIF89a....", "发票.gif", "image/gif"), _file("fee_list", PDF, "清单.pdf")],
     415, "ATTACHMENT_TYPE_NOT_ALLOWED", "不是 PDF、JPEG 或 PNG"),
    ([_file("invoice", b"<html>not a pdf</html>", "发票.pdf"), _file("fee_list", PDF, "清单.pdf")],
     415, "ATTACHMENT_TYPE_NOT_ALLOWED", "发票.pdf"),  # the bytes decide, not the name or declared type
    ([_file("invoice", PDF, "发票.pdf")], 422, "ATTACHMENT_MISSING", "费用清单"),
    ([_file("invoice", b"", "发票.pdf"), _file("fee_list", PDF, "清单.pdf")], 422, "ATTACHMENT_EMPTY", "空文件"),
])
def test_s4_attachment_refusals_are_coded_in_chinese(demo_ctx, server, attachments, status, code, words):
    _users(demo_ctx)
    before = row_counts(demo_ctx)
    refused = _submit(server, _claim(attachments=attachments))
    assert refused.status_code == status and refused.json()["code"] == code, refused.text
    assert words in refused.json()["message"] and refused.json()["hint"]
    assert row_counts(demo_ctx) == before


def test_s4_attachment_over_the_stated_size_is_refused(demo_ctx, server):
    _users(demo_ctx)
    limit = get_settings().claim_attachment_max_bytes
    big = PDF + b"0" * (limit - len(PDF) + 1)
    refused = _submit(server, _claim(attachments=[_file("invoice", big, "发票.pdf"), _file("fee_list", PDF, "清单.pdf")]))
    assert refused.status_code == 413 and refused.json()["code"] == "ATTACHMENT_TOO_LARGE"
    assert f"{limit // 1024} KB" in refused.json()["message"]
    exactly = PDF + b"0" * (limit - len(PDF))
    assert _submit(server, _claim(attachments=[_file("invoice", exactly, "发票.pdf"),
                                               _file("fee_list", PDF, "清单.pdf")])).status_code == 200


def test_s4_another_regions_clerk_and_another_person_see_nothing(demo_ctx, server):
    _users(demo_ctx)
    create_user(demo_ctx, username="P001", password="pw-zhang", role="person", admdvs="410800", psn_no="P001")
    claim = _submit(server).json()
    claim_id, file_id = claim["claim_id"], claim["attachments"][0]["id"]
    assert httpx.get(f"{server.url}/api/claims/queue", auth=OTHER_CLERK).json()["claims"] == []
    for path in (f"/api/claims/manual/{claim_id}", f"/api/claims/manual/{claim_id}/review",
                 f"/api/claims/manual/{claim_id}/attachments/{file_id}"):
        assert httpx.get(server.url + path, auth=OTHER_CLERK).status_code in (403, 404)
        assert httpx.get(server.url + path, auth=("P001", "pw-zhang")).status_code in (403, 404)
    for action in ("approve", "reject"):
        answer = httpx.post(f"{server.url}/api/claims/manual/{claim_id}/{action}", json={"reason": "x"},
                            auth=OTHER_CLERK)
        assert answer.status_code in (403, 404) and answer.json()["code"] in ("FORBIDDEN", "NOT_FOUND")
    person_try = httpx.post(f"{server.url}/api/claims/manual/{claim_id}/approve", json={}, auth=PERSON)
    assert person_try.json()["code"] == "FORBIDDEN"
    assert httpx.get(f"{server.url}/api/claims/manual/{claim_id}", auth=CLERK).json()["status"] == "submitted"


def test_s4_hospital_cannot_cancel_a_manual_claim_with_2305_only_the_agency_reverses_it(demo_ctx, server):
    _users(demo_ctx)
    file_filing(demo_ctx, WUHAN_LI, "resident_worker", "310000", "2023-01-20", "李五")
    claim_id = _submit(server).json()["claim_id"]
    setl_id = httpx.post(f"{server.url}/api/claims/manual/{claim_id}/approve", json={}, auth=CLERK).json()["setl_id"]
    before = _money(demo_ctx)
    shanghai = client_for(server, SHANGHAI)
    refused = shanghai.cancel_inpatient_settlement(setl_id)
    assert refused["infcode"] == -1 and refused["err_msg"].startswith("MANUAL_CLAIM_NOT_CANCELLABLE")
    assert "经办机构" in refused["err_msg"]
    assert _money(demo_ctx) == before
    with demo_ctx.unit_of_work() as session:
        assert session.get(SettlementRow, setl_id).status == "settled"

    # only the insured region's agency undoes it: 冲正, once
    reason = {"reason": "发票重复报销，冲正"}
    other = httpx.post(f"{server.url}/api/claims/manual/{claim_id}/reverse", json=reason, auth=OTHER_CLERK)
    assert other.status_code in (403, 404) and _money(demo_ctx) == before
    reversed_ = httpx.post(f"{server.url}/api/claims/manual/{claim_id}/reverse", json=reason, auth=CLERK)
    assert reversed_.status_code == 200 and reversed_.json()["status"] == "reversed", reversed_.text
    after = _money(demo_ctx)
    assert after["used"] == before["used"] - round(float(httpx.get(
        f"{server.url}/api/claims/manual/{claim_id}/review", auth=CLERK).json()["calculation"]["hifp_pay"]) * 100)
    assert httpx.post(f"{server.url}/api/claims/manual/{claim_id}/reverse", json=reason, auth=CLERK).status_code == 200
    assert _money(demo_ctx) == after  # a second reversal changes nothing
    with demo_ctx.unit_of_work() as session:
        assert session.get(SettlementRow, setl_id).status == "reversed"
        assert ledger.trial_balance(session) == 0
    report = verify(demo_ctx, seal=False)
    assert report.ok and report.checks["manual_claims_booked"] == "ok", report.problems
    # a claim whose status disagrees with its settlement is reported
    with demo_ctx.unit_of_work() as session:
        session.execute(update(ManualClaimRow).where(ManualClaimRow.claim_id == claim_id).values(status="approved"))
    assert any(p.startswith("manual_claims_booked") and claim_id in p for p in verify(demo_ctx, seal=False).problems)


def test_s4_claim_for_an_uploaded_visit_enters_the_queue(demo_ctx, server):
    """The visit the hospital uploaded (direct settlement refused: no filing) is claimed by mdtrt_id."""
    _users(demo_ctx)
    shanghai = client_for(server, SHANGHAI)
    mdtrt_id = ok(shanghai.admit(WUHAN_LI, "21", "2023-02-01"))["result"]["mdtrt_id"]
    ok(shanghai.upload_inpatient_fees([fee_row(mdtrt_id, "1", "X007", "8000.00")]))
    file_filing(demo_ctx, WUHAN_LI, "resident_worker", "310000", "2023-02-03", "李五")
    before = _money(demo_ctx)
    body = {"mdtrt_id": mdtrt_id, "endtime": "2023-02-05", "bank_name": "中国银行", "bank_account": "621785200001234",
            "account_name": "李五", "attachments": _claim()["attachments"]}
    claim = _submit(server, body).json()
    assert claim["status"] == "submitted" and claim["medfee_sumamt"] == "8000.00" and _money(demo_ctx) == before
    approved = httpx.post(f"{server.url}/api/claims/manual/{claim['claim_id']}/approve", json={}, auth=CLERK).json()
    assert approved["settlement"]["medfee_sumamt"] == "8000.00"
    # the visit is paid: the hospital's 2304 for it is now a duplicate
    direct = shanghai.settle_inpatient(mdtrt_id, endtime="2023-02-05")
    assert direct["infcode"] == -1 and direct["err_msg"].startswith("DUPLICATE_CLAIM")
