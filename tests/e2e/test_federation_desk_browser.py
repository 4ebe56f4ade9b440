"""In a real browser, on a real two-node federation (issue 16): the 北京 node's desk reads the card of 张三, insured
in 焦作 (the 河南 node answers over NATS), admits him, uploads fees, pre-settles and settles; the settlement page,
the slip and the day's reconciliation show the 北京 node's side of it, read from its own records."""

from __future__ import annotations

import pytest

from tests.api.test_fsi_support import file_filing, serving
from tests.e2e.conftest import login
from tests.federation.conftest import nats_url, sqlite_maker  # noqa: F401 - the real NATS server's fixture
from yidi.adapters.orm import PersonRow, SettlementRow, UserRow
from yidi.federation.local import LocalFederation
from yidi.services.users import hash_password

pytestmark = pytest.mark.browser

ZHANG_CERT = "410802195501011234"


@pytest.fixture
def beijing_desk(nats_url, tmp_path):  # noqa: F811 - nats_url is the fixture imported above
    with LocalFederation(sqlite_maker(tmp_path), url=nats_url, demo=True) as federation:
        beijing, henan = federation.nodes["11"], federation.nodes["41"]
        with henan.ctx.unit_of_work() as session:
            session.add(PersonRow(psn_no="P001", name="张三", certno=ZHANG_CERT, insuplc_admdvs="410800",
                                  insutype="310"))
        henan.index_persons()
        file_filing(henan.ctx, "P001", "retired_relocated", "110000", "2023-01-10", "张三")
        with beijing.ctx.unit_of_work() as session:
            session.add(UserRow(username="desk-xiehe", password_hash=hash_password("pw"), role="hospital",
                                admdvs="110000", fixmedins_code="H11000000001", display_name="协和医保办"))
        with serving(beijing.ctx) as live:
            yield live.url, henan.ctx


def test_federation_desk_settles_a_visitor_and_sees_its_side_in_pages(page, beijing_desk):
    url, henan = beijing_desk
    login(page, url, "desk-xiehe", "pw")
    page.fill("#certno", ZHANG_CERT)
    page.click("button:has-text('读卡')")
    assert page.inner_text("[data-testid=person-name]") == "张三"  # answered by the 河南 node
    assert "北京" in page.inner_text("table")  # his filing to 北京, held at the 河南 node
    page.fill("#begntime", "2023-03-01")
    page.click("button:has-text('办理入院')")
    page.wait_for_url("**/desk/visits/*")
    codes, amounts = page.locator("input[name=code]"), page.locator("input[name=amount]")
    for index, (code, amount) in enumerate([("X007", "8000"), ("X004", "4000")]):
        codes.nth(index).fill(code)
        amounts.nth(index).fill(amount)
    page.click("button:has-text('上传费用')")
    page.wait_for_load_state("load")
    page.fill("#endtime", "2023-03-10")
    page.click("button:has-text('预结算')")
    assert page.inner_text("[data-testid=preview-fund]") == "9,435.00"
    page.click("button:text-is('结算')")
    page.wait_for_url("**/desk/settlements/*")
    setl_id = page.inner_text("[data-testid=setl-id]")
    assert page.inner_text("[data-testid=fund-big]") == "9,435.00"
    assert "焦作" in page.inner_text("[data-testid=insured-region]")
    assert "北京" in page.inner_text("[data-testid=treatment-region]")
    with henan.unit_of_work() as session:  # the settlement itself is the insured node's
        assert session.get(SettlementRow, setl_id).hifp_pay == 943500
    slip = page.request.get(f"{url}/desk/settlements/{setl_id}/slip.pdf")
    assert slip.status == 200 and slip.headers["content-type"] == "application/pdf"

    page.goto(f"{url}/desk/reconciliation")
    assert page.inner_text("[data-testid=recon-fund-settled]") == "9,435.00"
    page.click(f"a:text-is('{setl_id}')")
    page.wait_for_url(f"**/desk/settlements/{setl_id}")
    assert page.inner_text("[data-testid=setl-id]") == setl_id
