"""The input is serialised once (interface/envelope.py canonical_json) for both the size limit and the content
digest: the digest must stay byte-for-byte what it was (stored messages keep matching a resend after an upgrade),
and the limit must count the same characters as before."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from yidi.interface.envelope import Call, canonical_json
from yidi.interface.execution import content_digest
from yidi.services import idempotency

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20)


def _digest_as_before(infno: str, code: str, value: object) -> str:
    canonical = json.dumps([infno, code, value], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return idempotency.body_digest(canonical.encode())


def _call(value: object, input_text: str) -> Call:
    return Call(infno="2304", msgid="m1", fixmedins_code="H11010500001\"医院", admdvs="110105", input=value,
                actor="fsi:test", received="2026-12-03 12:00:00", input_text=input_text)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _json, max_size=6))
def test_digest_of_the_parsed_input_text_is_the_digest_of_before(value: dict) -> None:
    expected = _digest_as_before("2304", "H11010500001\"医院", value)
    assert content_digest(_call(value, canonical_json(value))) == expected
    assert content_digest(_call(value, "")) == expected  # a Call built without the text (a queued replay)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _json, max_size=6))
def test_size_limit_counts_the_same_characters_as_before(value: dict) -> None:
    assert len(canonical_json(value)) == len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
