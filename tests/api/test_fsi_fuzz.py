"""Property: whatever a HIS sends inside a well-signed envelope, the answer is a coded envelope — never a fault
(SERVICE_UNAVAILABLE would mean an unexpected exception) — and nothing changes when it is refused."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_fsi_support import row_counts
from yidi.interface import calls as fsi
from yidi.interface.dispatch import TRANSACTIONS
from yidi.interface.signing import signed_headers
from yidi.client import HospitalClient

CODE = "H11000000001"
FIELDS = ["psn_no", "mdtrt_id", "med_type", "begntime", "endtime", "insutype", "dise_codg", "feedetl_sn",
          "med_list_codg", "det_item_fee_sumamt", "cnt", "pric", "init_feedetl_sn", "fee_ocur_time", "medfee_sumamt",
          "setl_id", "omsgid", "oinfno", "mdtrt_cert_type", "mdtrt_cert_no", "stmt_begndate", "stmt_enddate",
          "fund_pay_sumamt", "fixmedins_setl_cnt", "sign_no"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**15, 10**15), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["21", "11", "14", "P001", "X007", "2023-03-01", "-1",
                                                           "1e400", "NaN", "0000", "310", "2304", " "]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner,
                                                                                          max_size=4), max_leaves=8)
record = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8)
inputs = st.one_of(
    st.builds(lambda r: {"data": r}, record), st.builds(lambda r: {"mdtrtinfo": r}, record),
    st.builds(lambda rows: {"feedetail": rows}, st.one_of(st.lists(record, max_size=4), values)),
    st.builds(lambda r: {"dscginfo": r, "diseinfo": [r]}, record), record, values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(infno=st.sampled_from(sorted(TRANSACTIONS)), input_data=inputs)
def test_v1_any_input_gets_a_coded_answer_and_refusals_change_nothing(sqlite_ctx, infno, input_data):
    sqlite_ctx.demo_mode = True
    client = HospitalClient("http://unused", f"demo-{CODE}", f"demo-secret-{CODE}", CODE)
    body = json.dumps(client.envelope(infno, input_data), allow_nan=True).encode()
    headers = signed_headers(infno=infno, body=body, access_key=client.access_key, secret=client.secret)
    before = row_counts(sqlite_ctx)
    status, response = fsi.handle_call(sqlite_ctx, headers, body, infno)
    assert status == 200
    assert isinstance(response["infcode"], int)
    if response["infcode"] != 0:
        code = response["err_msg"].split("：", 1)[0]
        assert code != "SERVICE_UNAVAILABLE", response["err_msg"]
        assert len(response["err_msg"]) <= 200
        assert row_counts(sqlite_ctx) == before
