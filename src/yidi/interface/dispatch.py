"""The transactions the interface answers: one table, ``infno`` → handler."""

from __future__ import annotations

from typing import Callable

from yidi.interface import clearing as fsi_clearing
from yidi.interface.envelope import Call
from yidi.interface.fees import t2204, t2205, t2301, t2302
from yidi.interface.person import t1101
from yidi.interface.registration import t2201, t2202, t2203, t2401, t2402, t2404
from yidi.interface.reversal import t2601
from yidi.interface.settlement import t2206, t2207, t2208, t2303, t2304, t2305
from yidi.interface.signin import t9001, t9002
from yidi.services.context import AppContext

TRANSACTIONS: dict[str, Callable[[AppContext, Call], dict | bytes]] = {
    "1101": t1101, "2201": t2201, "2202": t2202, "2203": t2203, "2204": t2204, "2205": t2205, "2206": t2206,
    "2207": t2207, "2208": t2208, "2401": t2401, "2402": t2402, "2404": t2404, "2301": t2301, "2302": t2302,
    "2303": t2303, "2304": t2304, "2305": t2305, "2601": t2601, "9001": t9001, "9002": t9002,
    **fsi_clearing.TRANSACTIONS,
}
READ_INFNOS = {"1101", "2206", "2303", *fsi_clearing.READ_INFNOS}  # change nothing: answered fresh, never stored
WRITE_INFNOS = set(TRANSACTIONS) - READ_INFNOS
