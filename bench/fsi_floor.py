"""The floor under the fsi benchmark: the interface's HTTP + signature + envelope work with no database.

``uvicorn bench.fsi_floor:app`` answers the benchmark's calls the way the real server does up to the
transaction — the gateway's body guards, ``authenticate`` (SM3 of the body, HMAC-SM3 signature,
timestamp window), ``parse_call`` (envelope checks) and ``envelope`` — and then returns a canned
output instead of touching the database. Run side by side with the real server it shows what the 2
cores allow before any settlement work is done. Not part of the product; no credentials besides the
demo hospital's.
"""

from __future__ import annotations

import json

from pydantic import SecretStr

from yidi.interface.authentication import Credential, authenticate
from yidi.interface.dispatch import TRANSACTIONS
from yidi.interface.envelope import envelope, parse_call
from yidi.interface.output import now_text
from yidi.api.guards import json_depth_exceeds

HOSPITAL = "H11000000001"
CREDENTIAL = Credential(f"demo-{HOSPITAL}", HOSPITAL, "110000", SecretStr(f"demo-secret-{HOSPITAL}"), "HMAC-SM3",
                        True)
SETTLED = {"setlinfo": {name: "0.00" for name in (
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
    "hifp_pay", "pool_prop_selfpay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay")},
    "setldetail": [{"fund_pay_type": "310100", "fund_payamt": "0.00"}]}


class _Context:
    """Just enough of an AppContext for ``authenticate``: the credential cache, pre-filled."""

    demo_mode = True

    def __init__(self) -> None:
        self._fsi_credentials = {CREDENTIAL.access_key: (float("inf"), CREDENTIAL)}


CONTEXT = _Context()


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    if scope["path"] == "/health":
        payload = b'{"status":"ok"}'
    else:
        assert not json_depth_exceeds(body)
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        received = now_text()
        credential = authenticate(CONTEXT, headers, body, record=False)
        call = parse_call(body, scope["path"].rsplit("/", 1)[1], credential, received, transactions=TRANSACTIONS)
        output = ({"result": {"mdtrt_id": f"MD{call.msgid[-18:]}", "psn_no": ""}} if call.infno == "2401"
                  else SETTLED)
        payload = json.dumps(envelope(call.msgid, credential.admdvs, received, output=output),
                             ensure_ascii=False, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
