"""Hostile input (V1, issue 9): SQL/HTML injection strings in every text field of the hospital interface, invalid
UTF-8, oversized and deeply nested bodies on every POST route, and fuzzed scenario files. Never a 500, never a
change of state on refusal, never an exception that is not coded."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.api.test_fsi_support import client_for, row_counts, serving
from tests.security.test_access_table import app_routes
from yidi.api.app import create_app
from yidi.client import fee_row
from yidi.domain.errors import CATALOG
from yidi.services.context import AppContext
from yidi.services.demo import load_demo
from yidi.services.scenario import STEP_KEYS, ScenarioFormatError, load_scenario, run_scenario_data

HOSTILE = [
    "' OR '1'='1", "1; DROP TABLE settlements; --", "P001'); DELETE FROM usage; --", '" OR ""="',
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "{{7*7}}", "${jndi:ldap://127.0.0.1/a}",
    "\u202eRTL\u202c", "\x00", "../../etc/passwd", "410802195501011234", "😀" * 50, "x" * 5000,
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    ctx = AppContext.from_url(f"sqlite:///{tmp_path_factory.mktemp('hostile')}/yidi.db", demo_mode=True)
    load_demo(ctx)
    with serving(ctx) as server:
        yield ctx, server
    ctx.engine.dispose()


def _inputs(mdtrt_id: str) -> dict[str, dict]:
    """A well-formed input per transaction, whose every text leaf gets replaced in turn."""
    return {
        "1101": {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "410802195501011234"}},
        "2401": {"mdtrtinfo": {"psn_no": "P001", "med_type": "21", "begntime": "2023-03-01", "insutype": "310",
                               "dise_codg": "I10", "mdtrt_cert_type": "02"}, "diseinfo": []},
        "2301": {"feedetail": [fee_row(mdtrt_id, "1", "X007", "100.00", fee_ocur_time="2023-03-01 10:00:00")]},
        "2303": {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": "P001", "endtime": "2023-03-05"}},
        "2304": {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": "P001", "endtime": "2023-03-05"}},
        "2601": {"data": {"omsgid": "H11000000001202301010000009999", "oinfno": "2304", "psn_no": "P001"}},
        "3201": {"data": {"stmt_begndate": "2023-01-01", "stmt_enddate": "2023-12-31", "medfee_sumamt": "0",
                          "fund_pay_sumamt": "0", "fixmedins_setl_cnt": 0}},
        "9001": {"signIn": {"opter_no": "his"}},
    }


def _text_paths(value, path=()):
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _text_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _text_paths(item, (*path, index))


def _replaced(value, path, new):
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return copy


def test_v1_injection_strings_in_every_text_field_are_refused_or_harmless(served):
    ctx, server = served
    his = client_for(server)
    mdtrt_id = his.admit("P001", "21", "2023-03-01")["output"]["result"]["mdtrt_id"]
    sent = 0
    for infno, good in _inputs(mdtrt_id).items():
        for path in _text_paths(good):
            for hostile in HOSTILE[::3] if len(path) > 3 else HOSTILE:
                before = row_counts(ctx)
                answer = his.call(infno, _replaced(good, path, hostile))
                sent += 1
                assert isinstance(answer["infcode"], int)
                if answer["infcode"] != 0:
                    assert not answer["err_msg"].startswith("SERVICE_UNAVAILABLE"), (infno, path, answer["err_msg"])
                    assert row_counts(ctx) == before, (infno, path, hostile)
    assert sent > 200
    with ctx.engine.connect() as connection:  # the tables are all still there, and nothing was dropped
        assert connection.execute(text("SELECT count(*) FROM settlements")).scalar() >= 0
        assert connection.execute(text("SELECT count(*) FROM persons")).scalar() >= 5


def test_v1_injection_strings_in_api_and_page_fields(served):
    ctx, server = served
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for hostile in HOSTILE:
            login = http.post("/api/login", json={"username": hostile[:60], "password": hostile[:200]})
            assert login.status_code in (400, 401, 422, 429) and login.json()["code"]
            if "\x00" in hostile:  # refused at the edge, before any password check (issue 13)
                assert login.json()["code"] == "CONTROL_CHARACTER"
            estimate = http.post("/api/benefit/estimate", json={"psn_no": hostile, "fixmedins_code": hostile,
                                                                "med_type": "21", "begntime": "2023-03-01",
                                                                "endtime": "2023-03-02", "items": []})
            assert estimate.status_code < 500 and estimate.json()["code"]
        page = http.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        answer = http.post("/login", data={"username": "<script>alert(1)</script>", "password": "x",
                                           "csrf_token": csrf})
        assert answer.status_code in (401, 429)
        assert "<script>alert(1)</script>" not in answer.text and "&lt;script&gt;" in answer.text  # escaped


def test_v1_invalid_utf8_oversized_and_deep_bodies_on_every_post_route(served):
    ctx, server = served
    posts = sorted({path for method, path in app_routes(create_app(ctx)) if method == "POST"})
    concrete = [re.sub(r"\{\w+\}", "X1", path).replace("/fsi/api/X1", "/fsi/api/2304") for path in posts]
    bodies = {
        "invalid utf-8": (b'{"username": "\xff\xfe\xfa", "password": "\xc3\x28"}', "application/json"),
        "invalid utf-8 form": (b"username=%FF%FE&password=\xff\xfe", "application/x-www-form-urlencoded"),
        "deep json": (b"[" * 5000 + b"]" * 5000, "application/json"),
        "oversized": (b'{"a": "' + b"x" * 1_100_000 + b'"}', "application/json"),
        "not json": (b"\x00\x01\x02garbage", "application/json"),
    }
    before = row_counts(ctx)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for path in concrete:
            for label, (body, content_type) in bodies.items():
                response = http.post(path, content=body, headers={"content-type": content_type})
                assert response.status_code < 500, (path, label, response.status_code, response.text[:200])
    assert row_counts(ctx) == before


# ----------------------------------------------------------------- the scenario loader --
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=20), st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)),
                    st.sampled_from(["P001", "P005", "H11000000001", "110000", "410800", "21", "11", "proof",
                                     "commitment", "other_temporary", "X007", "2023-03-01", "8000.00", "-1", "1e400",
                                     "2023-02-30", "s1"]))
YAMLISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8) | st.sampled_from(["code", "amount", "qty", "price"]), inner, max_size=3), max_leaves=6)
ALL_STEP_KEYS = sorted({k for required, optional in STEP_KEYS.values() for k in required | optional}
                       | {"expect", "expect_error", "expect_ok", "note"})
STEP = st.fixed_dictionaries({"id": st.one_of(st.sampled_from(["s1", "s2", "s3"]), SCALARS),
                              "do": st.one_of(st.sampled_from(sorted(STEP_KEYS)), SCALARS)},
                             optional={key: YAMLISH for key in ALL_STEP_KEYS})
PERSON = st.fixed_dictionaries({}, optional={key: YAMLISH for key in
                                             ("psn_no", "certno", "insuplc_admdvs", "insutype", "name", "x")})
PLAUSIBLE = st.one_of(SCALARS, st.lists(st.fixed_dictionaries({"code": SCALARS, "amount": SCALARS},
                                                               optional={"qty": SCALARS, "price": SCALARS}),
                                         max_size=2))


@st.composite
def keyed_steps(draw) -> list[dict]:
    """Steps with unique ids, a known ``do`` and its required keys (values hostile): these get past the shape check
    and reach the services."""
    steps = []
    for n in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(sorted(STEP_KEYS)))
        required, optional = STEP_KEYS[action]
        step = {"id": f"s{n}", "do": action, **{key: draw(PLAUSIBLE) for key in sorted(required)}}
        step.update({key: draw(PLAUSIBLE) for key in sorted(optional) if draw(st.booleans())})
        steps.append(step)
    return steps


SCENARIO = st.one_of(
    YAMLISH,
    st.fixed_dictionaries({"steps": keyed_steps()}, optional={"persons": st.lists(PERSON, max_size=1)}),
    st.fixed_dictionaries({"steps": keyed_steps()}),
    st.fixed_dictionaries({"steps": st.one_of(st.lists(st.one_of(STEP, YAMLISH), max_size=4), YAMLISH)},
                          optional={"name": YAMLISH, "persons": st.one_of(st.lists(PERSON, max_size=2), YAMLISH),
                                    "other": YAMLISH}))


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """A migrated empty database, copied for each example (the runner wants a fresh one, as run_scenario_file)."""
    folder = tmp_path_factory.mktemp("scenario")
    AppContext.from_url(f"sqlite:///{folder}/template.db").engine.dispose()
    return folder


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=SCENARIO)
def test_v1_scenario_loader_answers_any_data_with_a_format_error_or_coded_steps(template_db, data):
    source = template_db / "story.yaml"
    source.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    shutil.copy(template_db / "template.db", template_db / "run.db")
    ctx = AppContext.from_url(f"sqlite:///{template_db}/run.db", migrate=False)
    try:
        report = run_scenario_data(load_scenario(source), ctx)
    except ScenarioFormatError:
        return
    finally:
        ctx.engine.dispose()
    for step in report.steps:
        assert step.ok or step.error["code"] in CATALOG, step.error
