"""The funds pages and their downloads show a clerk what /api/funds shows them, over real HTTP: the part of
the clearing statement and of the prepayments that concerns their region (services.funds_scope), never
another region's figures or national totals; a supervisor (national account) sees everything.

Flows of 2024-03 (tests/services/_funds.ROUTES): 焦作 410800 → 北京 110000 and → 郑州 410100, 德州 371400 →
上海 310000, 武汉 420100 → 北京. Prepayments 2024 from Q4 2023: 河南 → 北京 (province level), 山东 → 上海.
"""

from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager
from datetime import date
from typing import Iterator
from urllib.parse import unquote

import httpx
import pytest
from openpyxl import load_workbook

from tests.services._funds import file_all, settle_at
from tests.support.live_server import live_server
from yidi.api.app import create_app
from yidi.web.core import money_text  # amounts as the pages show them: 12,345.60
from yidi.services import clearing, prepayment
from yidi.services.users import create_user

USERS = {"jiaozuo": ("agency", "410800"), "henan": ("agency", "410000"), "wuhan": ("agency", "420100"),
         "national": ("supervisor", None)}


@pytest.fixture
def served(ctx):
    file_all(ctx)
    # distinct amounts, so that each flow's figures are recognisable in a page
    for psn_no, day, amount_fen in (("P001", date(2023, 12, 5), 500_000), ("P002", date(2023, 12, 6), 612_300),
                                    ("P001", date(2024, 3, 3), 512_300), ("P002", date(2024, 3, 4), 633_100),
                                    ("P003", date(2024, 3, 5), 745_600), ("P004", date(2024, 3, 6), 421_900)):
        settle_at(ctx, psn_no, day, amount_fen)
    clearing.run_clearing(ctx, "2024-03", today=date(2024, 4, 1))
    prepayment.confirm(ctx, 2024, on=date(2024, 1, 20))
    for username, (role, admdvs) in USERS.items():
        create_user(ctx, username=username, password=f"pw-{username}", role=role, admdvs=admdvs)
    with live_server(create_app(ctx)) as base:
        yield ctx, base


@contextmanager
def _signed_in(base: str, username: str) -> Iterator[httpx.Client]:
    """A page session (cookie) of ``username``, logged in through the login form."""
    with httpx.Client(base_url=base, timeout=30) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        response = client.post("/login", data={"csrf_token": token, "username": username,
                                               "password": f"pw-{username}"})
        assert response.status_code == 303, response.text[:300]
        yield client


def _table(html: str, testid: str) -> str | None:
    match = re.search(rf'<table data-testid="{testid}">(.*?)</table>', html, re.S)
    return match.group(1) if match else None


def _csv_rows(response: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[1:]


def _download_name(response: httpx.Response) -> str:
    return unquote(response.headers["content-disposition"].split("UTF-8''", 1)[1])


def _touches_410800(row: list) -> bool:
    return "410800" in (row[0], row[2])  # 参保地, 就医地 columns of the 清算单


def test_a_city_clerk_sees_only_their_part_of_the_funds_page(served):
    ctx, base = served
    national = clearing.get_statement(ctx, "2024-03")
    others = [flow for flow in national.flows if "410800" not in (flow.insuplc_admdvs, flow.mdtrtarea_admvs)]
    assert others and len(national.cities()) > 3
    with _signed_in(base, "jiaozuo") as clerk:
        page = clerk.get("/agency/funds", params={"month": "2024-03"})
        assert page.status_code == 200
        html = page.text
        # no national totals: neither the run's nor the statement's sums, nor the province transfers
        assert 'data-testid="statement-net"' not in html and _table(html, "province-transfers") is None
        assert money_text(clearing.list_runs(ctx)[0]["net"]) not in html and "410800" in html
        for flow in others:  # another region's flow figures appear nowhere
            assert money_text(flow.current_fen) not in html, flow
        assert re.findall(r'<option value="(\d+)"', html) == ["410800"]  # only their own city statement
        assert page.text.count('data-testid="city-payable"') == 1
        # another region's city statement: the coded FORBIDDEN page, not the figures
        for city in ("371400", "410100", "xyz"):
            refused = clerk.get("/agency/funds", params={"month": "2024-03", "city": city})
            assert refused.status_code == 403 and "FORBIDDEN" in refused.text
            assert all(money_text(flow.current_fen) not in refused.text for flow in national.flows)
        # prepayments and the plan: their province's lines only
        prepaid = _table(html, "prepayments")
        assert "北京市" in prepaid and "上海市" not in prepaid
        plan = _table(clerk.get("/agency/funds", params={"plan_year": "2024"}).text, "prepayment-plan")
        assert "河南省" in plan and "山东省" not in plan and "上海市" not in plan


def test_a_city_clerk_downloads_only_their_part_of_the_statement(served):
    _ctx, base = served
    with _signed_in(base, "jiaozuo") as clerk:
        html = clerk.get("/agency/funds", params={"month": "2024-03"}).text
        # the Excel workbook and the CSV files hold their part only, and their names say so
        xlsx = clerk.get("/agency/funds/2024-03/statement.xlsx")
        workbook = load_workbook(io.BytesIO(xlsx.content))
        assert workbook.sheetnames == ["清算单", "410800焦作市"]
        flow_rows = list(workbook["清算单"].iter_rows(min_row=2, values_only=True))
        assert len(flow_rows) == 2 and all(_touches_410800(row) for row in flow_rows)
        assert _download_name(xlsx) == "清算单-2024-03-410800.xlsx"
        links = re.findall(r'href="/agency/funds/2024-03/csv/([^"]+)"', html)
        assert [unquote(link) for link in links] == ["清算单-2024-03-410800.csv", "市级清算单-2024-03-410800.csv"]
        flows_csv = clerk.get("/agency/funds/2024-03/csv/" + links[0])
        assert flows_csv.status_code == 200 and _download_name(flows_csv) == "清算单-2024-03-410800.csv"
        own_flows = _csv_rows(flows_csv)
        assert len(own_flows) == 2 and all(_touches_410800(row) for row in own_flows)
        api_flows = clerk.get("/api/funds/clearing/2024-03", auth=("jiaozuo", "pw-jiaozuo")).json()["flows"]
        assert [(row[0], row[2], row[-1]) for row in own_flows] == [
            (f["insuplc_admdvs"], f["mdtrtarea_admvs"], f["net"]) for f in api_flows]  # the same rule as the API
        for national_file in ("清算单-2024-03.csv", "省级划拨-2024-03.csv", "市级清算单-2024-03-371400.csv",
                              "市级清算单-2024-03-410100.csv"):
            refused = clerk.get(f"/agency/funds/2024-03/csv/{national_file}")
            assert refused.status_code == 403 and "FORBIDDEN" in refused.text, national_file
        assert clerk.get("/agency/funds/2024-03/csv/nothing.csv").status_code == 404


def test_a_province_clerk_sees_their_province_cities_and_another_region_sees_none_of_henan(served):
    ctx, base = served
    with _signed_in(base, "henan") as clerk:
        html = clerk.get("/agency/funds", params={"month": "2024-03"}).text
        assert re.findall(r'<option value="(\d+)"', html) == ["410100", "410800"]
        zhengzhou = clerk.get("/agency/funds", params={"month": "2024-03", "city": "410100"})
        assert zhengzhou.status_code == 200 and 'data-testid="city-receivable"' in zhengzhou.text
        assert clerk.get("/agency/funds", params={"month": "2024-03", "city": "371400"}).status_code == 403
        workbook = load_workbook(io.BytesIO(clerk.get("/agency/funds/2024-03/statement.xlsx").content))
        assert workbook.sheetnames == ["清算单", "410100郑州市", "410800焦作市"]
    with _signed_in(base, "wuhan") as other:
        html = other.get("/agency/funds", params={"month": "2024-03"}).text
        assert "焦作" not in html and re.findall(r'<option value="(\d+)"', html) == ["420100"]
        assert _table(html, "prepayments") is None  # no prepayment of 湖北
        assert other.get("/agency/funds/2024-03/csv/市级清算单-2024-03-410800.csv").status_code == 403


def test_a_national_account_still_sees_the_whole_statement(served):
    ctx, base = served
    national = clearing.get_statement(ctx, "2024-03")
    with _signed_in(base, "national") as supervisor:
        html = supervisor.get("/agency/funds", params={"month": "2024-03"}).text
        assert re.search(r'data-testid="statement-net">([-\d.,]+)<', html).group(1) == money_text(
            national.net_fen)
        assert _table(html, "province-transfers") is not None and money_text(clearing.list_runs(ctx)[0]["net"]) in html
        assert re.findall(r'<option value="(\d+)"', html) == national.cities()
        dezhou = supervisor.get("/agency/funds", params={"month": "2024-03", "city": "371400"})
        assert dezhou.status_code == 200
        prepaid = _table(html, "prepayments")
        assert "北京市" in prepaid and "上海市" in prepaid
        xlsx = supervisor.get("/agency/funds/2024-03/statement.xlsx")
        assert _download_name(xlsx) == "清算单-2024-03.xlsx"
        workbook = load_workbook(io.BytesIO(xlsx.content))
        assert workbook.sheetnames[:2] == ["清算单", "省级划拨"]
        assert len(workbook.sheetnames) == 2 + len(national.cities())
        all_flows = _csv_rows(supervisor.get("/agency/funds/2024-03/csv/清算单-2024-03.csv"))
        assert len(all_flows) == len(national.flows)
        assert supervisor.get("/agency/funds/2024-03/csv/省级划拨-2024-03.csv").status_code == 200
