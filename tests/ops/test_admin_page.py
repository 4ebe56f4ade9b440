"""The administrator's page (/admin) over real HTTP: the same account and credential operations as the command
line, scoped to the administrator's region, each shown once and audited (issue 19)."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.api.test_fsi_support import serving
from tests.ops.test_accounts import _person_info, login
from tests.ops.test_two_person import Browser
from yidi.adapters.orm import AuditRow
from yidi.services.accounts import NewUser, add_user
from yidi.services.demo import load_demo


def shown(page: str, testid: str) -> str:
    block = re.search(rf'data-testid="{testid}">(.*?)</div>', page, re.S).group(1)
    return block


def test_admin_page_manages_accounts_and_keys(ctx):
    load_demo(ctx)
    with serving(ctx) as server:
        admin = Browser(server.url, "admin", "demo-admin")
        assert admin.http.get("/").headers["location"] == "/admin"
        added = admin.post("/admin/users", username="clerk-new", role="agency", admdvs="410800", display_name="新经办")
        assert added.status_code == 200 and added.headers["cache-control"] == "no-store"
        password = re.search(r"<code>([^<]+)</code>", shown(added.text, "shown-password")).group(1)
        assert login(server.url, "clerk-new", password).status_code == 200
        assert admin.post("/admin/users/clerk-new/disable").status_code == 303
        assert login(server.url, "clerk-new", password).status_code == 401
        assert admin.post("/admin/users/clerk-new/enable").status_code == 303
        reset = admin.post("/admin/users/clerk-new/reset-password")
        new_password = re.search(r"<code>([^<]+)</code>", shown(reset.text, "shown-password")).group(1)
        assert login(server.url, "clerk-new", new_password).status_code == 200

        issued = admin.post("/admin/credentials", fixmedins_code="H11000000001", algorithm="HMAC-SM3")
        access_key, secret = re.findall(r"<code>([^<]+)</code>", shown(issued.text, "shown-secret"))
        assert _person_info(server.url, access_key, secret)["infcode"] == 0
        page = admin.http.get("/admin").text
        assert access_key in page and secret not in page  # shown once, then only the key
        assert admin.post(f"/admin/credentials/{access_key}/revoke").status_code == 303
        assert "已吊销" in admin.http.get("/admin").text

        clerk = Browser(server.url, "clerk-jiaozuo", "demo-clerk")
        assert clerk.http.get("/admin").status_code == 403
        assert clerk.post("/admin/users", username="x-user", role="admin").status_code == 403
    with ctx.unit_of_work() as session:
        actions = [(r.actor, r.action) for r in session.scalars(select(AuditRow).where(AuditRow.actor == "admin")
                                                                    .order_by(AuditRow.id))]
    assert actions == [("admin", "user.add"), ("admin", "user.disable"), ("admin", "user.enable"),
                       ("admin", "user.reset_password"), ("admin", "credential.issue"), ("admin", "credential.revoke")]


def test_regional_admin_stays_in_their_region(ctx):
    load_demo(ctx)
    add_user(ctx, NewUser("admin-henan", "admin", "410000"), "henan-admin-1", actor="test")
    with serving(ctx) as server:
        admin = Browser(server.url, "admin-henan", "henan-admin-1")
        page = admin.http.get("/admin").text
        assert "clerk-jiaozuo" in page and "clerk-wuhan" not in page
        assert admin.post("/admin/users/clerk-wuhan/disable").status_code == 404
        assert admin.post("/admin/credentials", fixmedins_code="H11000000001").status_code == 403  # 北京
        assert admin.post("/admin/credentials", fixmedins_code="H41080000001").status_code == 200  # 焦作
        outside = admin.post("/admin/users", username="clerk-hb", role="agency", admdvs="420100")
        assert outside.status_code == 403
        assert admin.post("/admin/users/admin-henan/disable").status_code == 403  # never locks themself out
