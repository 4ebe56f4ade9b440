"""I1: one interface standard for every hospital — the same signed envelope answers the same way at the
three paths HIS software calls (/fsi/api/{infno}, /fsi/api/call, /fsi/api/rsfComIfsService/callService)."""

from __future__ import annotations

from tests.api.test_fsi_support import BEIJING, client_for, demo_ctx, server  # noqa: F401 - fixtures

PATHS = ("/fsi/api/{infno}", "/fsi/api/call", "/fsi/api/rsfComIfsService/callService")


def test_i1_every_path_speaks_the_same_envelope(server):
    answers = []
    for path in PATHS:
        client = client_for(server, BEIJING, path=path)
        try:
            answers.append(client.person_info("02", "410802195501011234"))
        finally:
            client.close()
    for answer in answers:
        assert answer["infcode"] == 0, answer["err_msg"]
        assert isinstance(answer["output"]["insuinfo"], list)  # an array, as real servers answer
    first = answers[0]["output"]
    assert all(answer["output"] == first for answer in answers[1:])
    assert first["baseinfo"]["psn_no"] == "P001"


def test_i1_refusals_are_coded_the_same_way_everywhere(server):
    for path in PATHS:
        client = client_for(server, BEIJING, path=path)
        try:
            answer = client.person_info("02", "110101199001011237")  # well formed, nobody insured
        finally:
            client.close()
        assert answer["infcode"] == -1 and answer["err_msg"].startswith("UNKNOWN_PERSON")
        assert len(answer["err_msg"]) <= 200
