"""Fault-injection seams for the fault tests (issue 9), off unless YIDI_TEST_HOOKS=1 is in the environment.

Only tests/fault sets that variable, on a server subprocess it starts itself. With it,
``YIDI_TEST_SLOW_SETTLE_SECONDS`` makes every settlement sleep inside its transaction, after the amounts are
computed and before anything is written — so a client timeout shorter than that loses the response of a
settlement that then commits.
"""

from __future__ import annotations

import os
import time

from yidi.config import get_settings
from yidi.services.context import AppContext


def install(ctx: AppContext) -> None:
    if os.environ.get("YIDI_TEST_HOOKS") != "1":
        return
    delay = get_settings().test_slow_settle_seconds
    if delay > 0:
        ctx.hooks["before_write"] = lambda _cmd: time.sleep(delay)
