"""S4 零星报销 on the pages, over real HTTP on SQLite and PostgreSQL: the person submits with files (nothing paid),
the insured region's clerk reviews the calculation and the files and approves (paid once)."""

from __future__ import annotations

import re

import httpx

from tests.api.test_fsi_support import demo_ctx, file_filing, row_counts, server  # noqa: F401
from yidi.services.users import create_user

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _login(base: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    token = _token(client.get("/login").text)
    answer = client.post("/login", data={"csrf_token": token, "username": username, "password": password})
    assert answer.status_code == 303, answer.text[:300]
    return client


def _paid(ctx) -> tuple[int, int]:
    counts = row_counts(ctx)
    return counts["settlements"], counts["journal_entries"]


FORM = {"fixmedins_code": "H11000000001", "med_type": "21", "begntime": "2023-03-01", "endtime": "2023-03-10",
        "code": ["X007", "X004"], "amount": ["8000.00", "4000.00"], "agree": "yes", "bank_name": "中国银行焦作分行",
        "bank_account": "6217852000012345678", "account_name": "张三"}


def test_s4_person_submits_on_the_page_and_the_clerk_approves_on_the_page(demo_ctx, server):
    create_user(demo_ctx, username="P001", password="pw-zhang", role="person", admdvs="410800", psn_no="P001")
    create_user(demo_ctx, username="clerk-jz", password="pw-clerk", role="agency", admdvs="410800")
    create_user(demo_ctx, username="clerk-wh", password="pw-clerk", role="agency", admdvs="420100")
    file_filing(demo_ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
    before = _paid(demo_ctx)
    person = _login(server.url, "P001", "pw-zhang")
    form_page = person.get("/person/claim")
    assert 'enctype="multipart/form-data"' in form_page.text and 'name="invoice"' in form_page.text

    # a file that is not a PDF/JPEG/PNG is refused on the form, in Chinese, and nothing is stored
    bad = person.post("/person/claim", data=FORM | {"csrf_token": _token(form_page.text)},
                      files=[("invoice", ("发票.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")),
                             ("fee_list", ("清单.jpg", JPEG, "image/jpeg"))])
    assert "ATTACHMENT_TYPE_NOT_ALLOWED" in bad.text and "不是 PDF、JPEG 或 PNG" in bad.text
    assert person.get("/person").text.count("/person/claims/") == 0

    sent = person.post("/person/claim", data=FORM | {"csrf_token": _token(form_page.text)},
                       files=[("invoice", ("发票.pdf", PDF, "application/pdf")),
                              ("fee_list", ("清单.jpg", JPEG, "image/jpeg"))])
    assert sent.status_code == 303, sent.text[:500]
    claim_url = sent.headers["location"].split("?")[0]
    claim_id = claim_url.rsplit("/", 1)[-1]
    status_page = person.get(claim_url).text
    assert "待审核" in status_page
    assert _paid(demo_ctx) == before  # nothing paid on submission
    invoice_link = re.search(rf'/person/claims/{claim_id}/attachments/\d+', status_page).group(0)
    assert person.get(invoice_link).content == PDF

    # another region's clerk: not in the queue, the claim does not exist for them
    other = _login(server.url, "clerk-wh", "pw-clerk")
    assert claim_id not in other.get("/agency/claims").text
    assert other.get(f"/agency/claims/{claim_id}").status_code in (403, 404)

    clerk = _login(server.url, "clerk-jz", "pw-clerk")
    assert claim_id in clerk.get("/agency/claims").text
    review = clerk.get(f"/agency/claims/{claim_id}")
    assert review.status_code == 200 and "12000.00" in review.text and "审核通过将按此支付" in review.text
    assert "retired_relocated" not in review.text and "张三" in review.text  # names, not codes
    file_link = re.search(rf'/agency/claims/{claim_id}/attachments/\d+', review.text).group(0)
    assert clerk.get(file_link).content == PDF
    decided = clerk.post(f"/agency/claims/{claim_id}/decide",
                         data={"csrf_token": _token(review.text), "decision": "approve"})
    assert decided.status_code == 303
    assert _paid(demo_ctx) == (before[0] + 1, before[1] + 1)
    again = clerk.post(f"/agency/claims/{claim_id}/decide",
                       data={"csrf_token": _token(review.text), "decision": "approve"})
    assert again.status_code == 303 and _paid(demo_ctx) == (before[0] + 1, before[1] + 1)
    assert "审核通过" in person.get(claim_url).text

    # the hospital named in the claim sees the settlement but cannot cancel it (only the agency reverses it)
    setl_id = re.search(r'/person/settlements/(LX\w+)', person.get(claim_url).text).group(1)
    create_user(demo_ctx, username="desk-bj", password="pw-desk", role="hospital", admdvs="110000",
                fixmedins_code="H11000000001")
    desk = _login(server.url, "desk-bj", "pw-desk")
    slip = desk.get(f"/desk/settlements/{setl_id}")
    assert slip.status_code == 200 and f"/desk/settlements/{setl_id}/cancel" not in slip.text
    refused = desk.post(f"/desk/settlements/{setl_id}/cancel", data={"csrf_token": _token(slip.text)})
    assert refused.status_code == 409 and "MANUAL_CLAIM_NOT_CANCELLABLE" in refused.text
    assert _paid(demo_ctx) == (before[0] + 1, before[1] + 1)
    for client in (person, other, clerk, desk):
        client.close()
