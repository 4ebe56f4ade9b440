"""Who may call what: every route of the app (walked from ``app.routes``) with every role, over real HTTP.

Roles: anonymous, a person (P001, insured in 焦作 410800), a hospital desk (北京协和 H11000000001), an agency
of another region (武汉 420100), the agency of the right region (焦作 410800) and a supervisor. The resources
used are P001's: a pending filing, a visit and a settlement at 协和, a supervision lead about 焦作 — created anew
for each request that could change them, so one role's success never decides another's answer.

A role is *allowed* when its request passes authentication and authorization: any answer but 401, 403, 404
(a resource that is not yours is not found) or a redirect to the login page. A business refusal after the
checks (409 state, 422 input) still counts as allowed. A route missing from EXPECTED fails the test, so a new
endpoint cannot be added without deciding who may call it.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.api.test_fsi_support import claim_papers
from tests.support.live_server import live_server
from yidi.adapters.orm_web import LeadRow
from yidi.api.app import create_app
from yidi.domain.catalog import FeeItem
from yidi.services import clearing, filings, manual_claims, prepayment, settlements, visits
from yidi.services.demo import load_demo

ROLES = ("anonymous", "person", "hospital", "agency_other", "agency_right", "supervisor", "admin")
LOGINS = {"person": ("P001", "demo-person"), "hospital": ("desk-beijing", "demo-desk"),
          "agency_other": ("clerk-wuhan", "demo-clerk"), "agency_right": ("clerk-jiaozuo", "demo-clerk"),
          "supervisor": ("supervisor", "demo-super"), "admin": ("admin", "demo-admin")}
ALL = set(ROLES)
LOGGED_IN = ALL - {"anonymous"}
NOBODY: set[str] = set()  # no user role: the hospital interface takes signed HIS calls only
AGENCY_SUP = {"agency_other", "agency_right", "supervisor"}
P = {"person"}
H = {"hospital"}
RIGHT_AGENCY = {"agency_right"}
ADMIN = {"admin"}  # accounts and hospital access keys (issue 19)
NATIONAL: set[str] = set()  # two national or provincial *agency* users move the country's money (issue 19); never
# the read-only supervisor (issue 13); the demo callers here are city clerks (tests/ops/test_two_person.py)

# (method, path) -> the roles allowed. Pages and /api alike.
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("GET", "/health"): ALL,
    # probes and metrics: for the load balancer and Prometheus; the reverse proxy keeps /metrics internal
    ("GET", "/health/live"): ALL, ("GET", "/health/ready"): ALL, ("GET", "/metrics"): ALL,
    ("GET", "/openapi.json"): ALL, ("GET", "/docs"): ALL, ("GET", "/docs/oauth2-redirect"): ALL,
    ("GET", "/redoc"): ALL,
    ("POST", "/api/login"): ALL,
    ("GET", "/api/me"): LOGGED_IN,
    ("POST", "/api/logout"): LOGGED_IN, ("POST", "/api/password"): LOGGED_IN,
    ("POST", "/api/filings"): {"person", "agency_right"},
    # lists: every agency may ask, and gets its own region only (test_i3_lists_are_scoped_to_the_region)
    ("GET", "/api/filings"): {"person", "agency_other", "agency_right", "supervisor"},
    ("GET", "/api/filings/pending"): AGENCY_SUP,
    ("GET", "/api/filings/{filing_id}"): {"person", "agency_right", "supervisor"},
    ("GET", "/api/filings/{filing_id}/history"): {"person", "agency_right", "supervisor"},
    ("POST", "/api/filings/{filing_id}/change"): {"person", "agency_right"},
    ("POST", "/api/filings/{filing_id}/cancel"): {"person", "agency_right"},
    ("POST", "/api/filings/{filing_id}/approve"): RIGHT_AGENCY,
    ("POST", "/api/filings/{filing_id}/reject"): RIGHT_AGENCY,
    ("POST", "/api/filings/{filing_id}/materials"): RIGHT_AGENCY,  # the clerk records supplied materials (001 二(五))
    # 特药待遇认定 (B11): the insured region's clerk records; the person and their region's agency and supervision read
    ("POST", "/api/special-drugs/recognitions"): RIGHT_AGENCY,
    ("GET", "/api/persons/{psn_no}/special-drug-recognitions"): {"person", "agency_right", "supervisor"},
    ("GET", "/api/commitment-text"): LOGGED_IN,  # the published 个人承诺书 text
    ("GET", "/api/regions"): LOGGED_IN,
    ("GET", "/api/institutions"): LOGGED_IN,
    ("POST", "/api/benefit/estimate"): ALL,  # 费用测算 needs no login and writes nothing
    ("POST", "/fsi/api/call"): NOBODY, ("POST", "/fsi/api/rsfComIfsService/callService"): NOBODY,
    ("POST", "/fsi/api/{infno}"): NOBODY,
    ("POST", "/api/claims/manual"): {"person", "hospital"},
    # 零星报销 (P001's, insured in 焦作): the person's own, the insured region's clerk; supervision may read
    ("GET", "/api/claims/queue"): AGENCY_SUP,  # every agency may ask, and gets its own region only
    ("GET", "/api/claims/manual/{claim_id}"): {"person", "agency_right", "supervisor"},
    ("GET", "/api/claims/manual/{claim_id}/review"): {"agency_right", "supervisor"},
    ("GET", "/api/claims/manual/{claim_id}/attachments/{attachment_id}"): {"person", "agency_right", "supervisor"},
    ("POST", "/api/claims/manual/{claim_id}/approve"): RIGHT_AGENCY,
    ("POST", "/api/claims/manual/{claim_id}/reject"): RIGHT_AGENCY,
    ("POST", "/api/claims/manual/{claim_id}/paid"): RIGHT_AGENCY,
    ("POST", "/api/claims/manual/{claim_id}/reverse"): RIGHT_AGENCY,
    ("GET", "/api/funds/clearing"): AGENCY_SUP,
    ("GET", "/api/funds/clearing/{month}"): AGENCY_SUP,
    ("GET", "/api/funds/federation/clearing/{month}"): AGENCY_SUP,  # the hub's statement (one node: its own)
    ("GET", "/api/funds/clearing/{month}/cities/{admdvs}"): {"agency_right", "supervisor"},
    ("GET", "/api/funds/clearing/{month}/reconciliation"): AGENCY_SUP,
    ("GET", "/api/funds/prepayments"): AGENCY_SUP,
    ("GET", "/api/funds/prepayments/plan"): AGENCY_SUP,
    # pages
    ("GET", "/"): ALL,  # the public guide for the anonymous; a logged-in user is sent to their own pages
    ("GET", "/guide"): ALL, ("GET", "/estimate"): ALL, ("POST", "/estimate"): ALL,  # public: no person data
    ("GET", "/login"): ALL, ("POST", "/login"): ALL, ("POST", "/logout"): ALL,
    ("GET", "/person"): P, ("GET", "/person/filing/new"): P, ("POST", "/person/filing/step2"): P,
    ("POST", "/person/filing/step3"): P, ("POST", "/person/filing/submit"): P,
    ("GET", "/person/filings/{filing_id}"): P, ("POST", "/person/filings/{filing_id}/change"): P,
    ("GET", "/person/estimate"): P, ("POST", "/person/estimate"): P, ("GET", "/hospitals"): ALL,  # the public list of networked hospitals
    ("GET", "/person/settlements/{setl_id}"): P, ("GET", "/person/claim"): P, ("POST", "/person/claim"): P,
    ("GET", "/person/claims/{claim_id}"): P, ("GET", "/person/claims/{claim_id}/attachments/{attachment_id}"): P,
    ("GET", "/desk"): H, ("POST", "/desk/read"): H, ("POST", "/desk/admit"): H, ("GET", "/desk/visits/{mdtrt_id}"): H,
    ("POST", "/desk/visits/{mdtrt_id}/fees"): H, ("POST", "/desk/visits/{mdtrt_id}/fees/{feedetl_sn}/delete"): H,
    ("POST", "/desk/visits/{mdtrt_id}/cancel"): H,
    ("POST", "/desk/visits/{mdtrt_id}/presettle"): H, ("POST", "/desk/visits/{mdtrt_id}/settle"): H,
    ("GET", "/desk/settlements/{setl_id}"): H, ("POST", "/desk/settlements/{setl_id}/cancel"): H,
    ("GET", "/desk/settlements/{setl_id}/slip.pdf"): H, ("GET", "/desk/reconciliation"): H,
    # the desk's API twin: the institution's own settlements (and its side of visitors' cross-province ones)
    ("GET", "/api/desk/settlements"): H, ("GET", "/api/desk/settlements/{setl_id}"): H,
    ("GET", "/agency"): {"agency_other", "agency_right"},
    ("POST", "/agency/filings/{filing_id}/decide"): RIGHT_AGENCY,
    ("GET", "/agency/claims"): {"agency_other", "agency_right"},  # each clerk sees the own region's queue
    ("GET", "/agency/claims/{claim_id}"): RIGHT_AGENCY, ("POST", "/agency/claims/{claim_id}/decide"): RIGHT_AGENCY,
    ("GET", "/agency/claims/{claim_id}/attachments/{attachment_id}"): RIGHT_AGENCY,
    # batch decision: any clerk may post it; each filing is then checked against the clerk's region
    ("POST", "/agency/filings/decide"): {"agency_other", "agency_right"},
    ("GET", "/agency/search"): AGENCY_SUP, ("GET", "/agency/funds"): AGENCY_SUP,
    ("POST", "/agency/funds/run"): NATIONAL, ("GET", "/agency/reconciliation"): AGENCY_SUP,
    ("POST", "/agency/funds/prepay"): NATIONAL, ("POST", "/agency/funds/approvals/{request_id}/approve"): NATIONAL,
    ("GET", "/admin"): ADMIN, ("POST", "/admin/users"): ADMIN, ("POST", "/admin/users/{username}/disable"): ADMIN,
    ("POST", "/admin/users/{username}/enable"): ADMIN, ("POST", "/admin/users/{username}/reset-password"): ADMIN,
    ("POST", "/admin/credentials"): ADMIN, ("POST", "/admin/credentials/{access_key}/rotate"): ADMIN,
    ("POST", "/admin/credentials/{access_key}/revoke"): ADMIN,
    ("GET", "/agency/funds/{month}/statement.xlsx"): AGENCY_SUP,
    # the file is 焦作's city statement: another region's clerk is refused it (test_i3_funds_pages_are_scoped…)
    ("GET", "/agency/funds/{month}/csv/{filename}"): {"agency_right", "supervisor"},
    ("GET", "/supervision"): AGENCY_SUP, ("POST", "/supervision/run"): AGENCY_SUP,
    ("GET", "/supervision/leads/{lead_id}"): {"agency_right", "supervisor"},
    ("POST", "/supervision/leads/{lead_id}/assign"): {"agency_right", "supervisor"},
    ("POST", "/supervision/leads/{lead_id}/close"): {"agency_right", "supervisor"},
    ("GET", "/stats"): AGENCY_SUP,
}


def app_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, walking included routers (FastAPI ≥ 0.120 nests them)."""
    found: list[tuple[str, str]] = []

    def walk(routes, prefix: str = "") -> None:
        for route in routes:
            if hasattr(route, "original_router"):
                walk(route.original_router.routes, prefix + (getattr(route.include_context, "prefix", "") or ""))
            elif hasattr(route, "methods") and route.methods:
                for method in sorted(route.methods - {"HEAD"}):
                    found.append((method, prefix + route.path))
    walk(app.routes)
    return found


STAYS, FILINGS, CLAIMS = itertools.count(1), itertools.count(1), itertools.count(1)


class World:
    """P001's resources, made through the services as the real users would."""

    def __init__(self, ctx):
        self.ctx = ctx

    def filing(self) -> str:
        day = date.fromordinal(date.today().toordinal() + 200 * next(FILINGS))  # periods never overlap
        filing = filings.file_filing(self.ctx, filings.FileCommand(
            psn_no="P001", filing_type="other_temporary", basis="proof", mdtrtarea_admvs="310000", begndate=day,
            apply_date=day, channel="app"))
        return filing.filing_id

    def visit(self) -> str:
        mdtrt_id = visits.register(self.ctx, fixmedins_code="H11000000001", psn_no="P001", med_type="21",
                                   begntime=date(2024, 3, 1)).mdtrt_id
        # discharged at once: a person has one open stay at a time (ALREADY_ADMITTED), and routes need several
        visits.discharge(self.ctx, fixmedins_code="H11000000001", mdtrt_id=mdtrt_id, endtime=date(2024, 3, 5))
        return mdtrt_id

    def fee(self, mdtrt_id: str) -> int:
        from decimal import Decimal

        from sqlalchemy import select

        from yidi.adapters.orm import FeeDetailRow
        visits.upload_fees(self.ctx, fixmedins_code="H11000000001", mdtrt_id=mdtrt_id,
                           lines=[visits.FeeLine("1", "X004", 100000, cnt=Decimal(1))])
        with self.ctx.unit_of_work() as session:
            return session.scalars(select(FeeDetailRow.id).where(FeeDetailRow.mdtrt_id == mdtrt_id)).first()

    def settlement(self) -> str:
        begin = date.fromordinal(date(2024, 1, 1).toordinal() + 3 * next(STAYS))  # one stay per call
        return settlements.settle(self.ctx, settlements.SettleCommand(
            psn_no="P001", fixmedins_code="H11000000001", med_type="21", begntime=begin, endtime=begin,
            items=(FeeItem(code="X004", amount_fen=100000),), setl_date=begin)).setl_id

    def approval(self) -> str:
        """A clearing asked for by another national user, for the caller to approve."""
        from yidi.services import approvals
        from yidi.services.users import Principal

        return approvals.request(self.ctx, Principal("another-clerk", "agency", "410000"), "clearing.run",
                                 {"month": "2024-01"}).request_id

    def user(self) -> str:
        from yidi.services.accounts import NewUser, add_user

        username = f"u{next(FILINGS)}-{datetime.now():%H%M%S%f}"
        add_user(self.ctx, NewUser(username, "agency", "410800"), None, actor="test")
        return username

    def access_key(self) -> str:
        from yidi.services import credentials

        return credentials.issue(self.ctx, "H41080000001", actor="test").access_key
    def claim(self) -> tuple[str, str]:
        """A submitted 零星报销 of P001 (one visit each) and the id of its invoice."""
        begin = date.fromordinal(date(2023, 1, 1).toordinal() + 3 * next(CLAIMS))
        pdf = b"%PDF-1.4\n%%EOF\n"
        claim = manual_claims.submit(self.ctx, manual_claims.SubmitCommand(
            psn_no="P001", fixmedins_code="H11000000001", med_type="21", begntime=begin, endtime=begin,
            items=(FeeItem(code="X004", amount_fen=100000),), bank_name="中国银行", bank_account="6217852000012345678",
            account_name="张三", submitted_on=date.today(), actor="P001",
            attachments=(manual_claims.Attachment("invoice", "invoice.pdf", "application/pdf", pdf),
                         manual_claims.Attachment("fee_list", "fee_list.pdf", "application/pdf", pdf))))
        return claim.claim_id, str(claim.attachments[0].id)

    def lead(self) -> str:
        lead_id = f"L{datetime.now():%H%M%S%f}"
        with self.ctx.unit_of_work() as session:
            session.add(LeadRow(lead_id=lead_id, fingerprint=lead_id, rule="test", rule_ids="V1", title="测试线索",
                                psn_no="P001", fixmedins_code="H11000000001", insuplc_admdvs="410800",
                                mdtrtarea_admvs="110000", setl_ids=[], evidence={}, status="open",
                                found_on=date.today()))
        return lead_id


def concrete(world: World, path: str) -> str:
    values = {}
    if "{filing_id}" in path:
        values["filing_id"] = world.filing()
    if "{mdtrt_id}" in path:
        values["mdtrt_id"] = world.visit()
    if "{feedetl_sn}" in path:
        world.fee(values["mdtrt_id"])
        values["feedetl_sn"] = "1"  # the line world.fee uploads
    if "{setl_id}" in path:
        values["setl_id"] = world.settlement()
    if "{lead_id}" in path:
        values["lead_id"] = world.lead()
    if "{request_id}" in path:
        values["request_id"] = world.approval()
    if "{username}" in path:
        values["username"] = world.user()
    if "{access_key}" in path:
        values["access_key"] = world.access_key()
    if "{claim_id}" in path:
        values["claim_id"], values["attachment_id"] = world.claim()
    values.update(psn_no="P001", month="2024-01", admdvs="410800", infno="2304", filename="市级清算单-2024-01-410800.csv")
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


JSON_BODIES = {
    "/api/login": {"username": "nobody", "password": "x"},
    "/api/password": {"old_password": "x", "new_password": "short"},  # 422 after the login check: nothing changes
    "/api/filings": {"psn_no": "P001", "type": "other_temporary", "basis": "proof", "mdtrtarea_admvs": "310000",
                     "begndate": date.today().isoformat()},
    "change": {"date": date.today().isoformat(), "proof": True, "mdtrtarea_admvs": "320000"},
    "cancel": {"date": date.today().isoformat(), "proof": True},
    "approve": {"reason": "材料齐全"},
    "reject": {"reason": "材料不全"},
    "materials": {"date": date.today().isoformat()},
    "/api/special-drugs/recognitions": {"psn_no": "P001", "med_list_codg": "X002", "fixmedins_code": "H41010000001",
                                        "doctor_code": "D001", "begndate": date.today().isoformat()},
    "paid": {"payment_ref": "TR0001"},
    "reverse": {"reason": "重复支付"},
    "/api/benefit/estimate": {"insuplc_admdvs": "410800", "insutype": "310", "fixmedins_code": "H11000000001",
                              "med_type": "21", "begntime": "2024-03-01", "endtime": "2024-03-05",
                              "items": [{"code": "X004", "amount": "1000.00"}]},
    "/api/claims/manual": {"psn_no": "P001", "fixmedins_code": "H11000000001", "med_type": "21",
                           "begntime": "2024-05-01", "endtime": "2024-05-03",
                           "items": [{"code": "X004", "amount": "1000.00"}]} | claim_papers(),
}


# Valid forms, so that a role check is what decides (several handlers validate input before the region check).
FORMS = {
    "/desk/read": {"certno": "410802195501011234"},
    "/admin/credentials": {"fixmedins_code": "H41080000001"},
    "/agency/filings/{filing_id}/decide": {"decision": "approve"},
    "/agency/claims/{claim_id}/decide": {"decision": "approve"},
    "/supervision/leads/{lead_id}/assign": {"assigned_admdvs": "110000", "note": "请协查"},
    "/supervision/leads/{lead_id}/close": {"outcome": "unfounded", "note": "排除"},
}


def json_body(path: str) -> dict:
    return JSON_BODIES.get(path) or JSON_BODIES.get(path.rsplit("/", 1)[-1]) or {}


class Caller:
    def __init__(self, base: str, role: str):
        self.role = role
        self.http = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
        self.csrf = ""
        if role != "anonymous":
            username, password = LOGINS[role]
            token = self.http.post("/api/login", json={"username": username, "password": password})
            assert token.status_code == 200, token.text
            self.http.headers["authorization"] = f"Bearer {token.json()['access_token']}"
            self._page_csrf()
            login = self.http.post("/login", data={"username": username, "password": password,
                                                   "csrf_token": self.csrf})
            assert login.status_code == 303 and "login" not in login.headers["location"], login.text[:300]
        self._page_csrf()

    def _page_csrf(self) -> None:
        page = self.http.get("/login")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, "the login page carries a CSRF token"
        self.csrf = match.group(1)

    def request(self, method: str, template: str, path: str) -> httpx.Response:
        if template in ("/login", "/logout", "/api/login", "/api/logout"):
            return self._session_route(template)
        if method == "GET":
            return self.http.get(path)
        if template.startswith("/api/") or template.startswith("/fsi/"):
            return self.http.post(path, json=json_body(template))
        return self.http.post(path, data={"csrf_token": self.csrf, **FORMS.get(template, {})})

    def _session_route(self, template: str) -> httpx.Response:
        """Logging in or out would replace this caller's own session: use a fresh one (public routes)."""
        fresh = Caller(str(self.http.base_url), "anonymous")
        try:
            if template == "/api/login":
                return fresh.http.post(template, json={"username": "P002", "password": "demo-person"})
            if template == "/api/logout":  # revokes every session of the user: a user no other caller uses
                if self.role == "anonymous":
                    return fresh.http.post(template)
                token = fresh.http.post("/api/login", json={"username": "P002", "password": "demo-person"})
                return fresh.http.post(template, headers={"authorization": f"Bearer {token.json()['access_token']}"})
            if template == "/login":
                return fresh.http.post(template, data={"csrf_token": fresh.csrf, "username": "P002",
                                                       "password": "demo-person"})
            return fresh.http.post(template, data={"csrf_token": fresh.csrf})
        finally:
            fresh.http.close()


def allowed(response: httpx.Response) -> bool:
    if response.request.url.path == "/logout":
        return response.status_code == 303  # logging out always lands on the login page
    if response.status_code in (401, 403, 404):
        return False
    if response.status_code in (302, 303, 307) and response.headers.get("location", "").startswith("/login"):
        return False
    return response.status_code < 500


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from yidi.services.context import AppContext

    ctx = AppContext.from_url(f"sqlite:///{tmp_path_factory.mktemp('access')}/yidi.db", demo_mode=True)
    load_demo(ctx)
    world = World(ctx)
    for _ in range(3):
        world.settlement()
    clearing.run_clearing(ctx, "2024-01", today=date(2024, 2, 1))  # a statement for /api/funds/clearing/{month}
    prepayment.confirm(ctx, 2024, on=date(2024, 1, 20))
    app = create_app(ctx)
    with live_server(app) as base:
        yield ctx, app, base
    ctx.engine.dispose()


def test_i3_every_route_has_a_decided_access_set(served):
    _ctx, app, _base = served
    routes = set(app_routes(app))
    assert routes - set(EXPECTED) == set(), "new routes need a row in EXPECTED"
    assert set(EXPECTED) - routes == set(), "EXPECTED names routes the app no longer has"


def test_i3_every_route_with_every_role(served):
    ctx, app, base = served
    world = World(ctx)
    callers = {role: Caller(base, role) for role in ROLES}
    wrong = []
    for method, template in sorted(app_routes(app)):
        got = set()
        for role in ROLES:
            response = callers[role].request(method, template, concrete(world, template))
            assert response.status_code < 500, (method, template, role, response.text[:300])
            if allowed(response):
                got.add(role)
        if got != EXPECTED[(method, template)]:
            wrong.append(f"{method} {template}: allowed {sorted(got)}, expected {sorted(EXPECTED[(method, template)])}")
    assert not wrong, "\n".join(wrong)


def test_i3_lists_and_funds_are_scoped_to_the_agency_region(served):
    _ctx, _app, base = served
    wuhan, jiaozuo, supervisor = Caller(base, "agency_other"), Caller(base, "agency_right"), Caller(base, "supervisor")
    national = supervisor.http.get("/api/funds/clearing/2024-01").json()
    assert any(f["insuplc_admdvs"] == "410800" for f in national["flows"]) and "province_transfers" in national
    own = jiaozuo.http.get("/api/funds/clearing/2024-01").json()
    assert own["flows"] and all("410800" in (f["insuplc_admdvs"], f["mdtrtarea_admvs"]) for f in own["flows"])
    assert "province_transfers" not in own and "net" not in own  # national totals are the supervisor's
    other = wuhan.http.get("/api/funds/clearing/2024-01").json()
    assert all("410800" not in (f["insuplc_admdvs"], f["mdtrtarea_admvs"]) for f in other["flows"])
    assert wuhan.http.get("/api/funds/clearing/2024-01/cities/410800").status_code == 403
    assert "net" not in wuhan.http.get("/api/funds/clearing").json()[0]
    assert wuhan.http.get("/api/funds/prepayments", params={"year": 2024}).json() == []
    wuhan_filings = wuhan.http.get("/api/filings").json()["filings"]
    assert all(f["psn_no"] != "P001" for f in wuhan_filings)
    assert wuhan.http.get("/api/filings", params={"insuplc_admdvs": "410800"}).status_code == 403
