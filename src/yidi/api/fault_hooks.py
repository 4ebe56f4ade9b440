"""Fault-injection seams for the fault tests (issue 9), off unless YIDI_TEST_HOOKS=1 is in the environment.

Only tests/fault sets that variable, on a server subprocess it starts itself. With it,
``YIDI_TEST_SLOW_SETTLE_SECONDS`` makes every settlement sleep inside its transaction, after the amounts are
computed and before anything is written — so a client timeout shorter than that loses the response of a
settlement that then commits. ``YIDI_TEST_DIE_AFTER_INSURED_COMMIT=N`` makes a federation node kill itself
(SIGKILL: no cleanup, no flush) in its N-th cross-province settlement, after the insured node committed and before
its own commit — the window the federation's exactly-once rests on (tests/fault/test_federation_faults.py).
"""

from __future__ import annotations

import itertools
import os
import signal
import time

from yidi.config import get_settings
from yidi.services.context import AppContext


def install(ctx: AppContext) -> None:
    if os.environ.get("YIDI_TEST_HOOKS") != "1":
        return
    delay = get_settings().test_slow_settle_seconds
    if delay > 0:
        ctx.hooks["before_write"] = lambda _cmd: time.sleep(delay)
    die_at = get_settings().test_die_after_insured_commit
    if die_at > 0:
        settlements = itertools.count(1)

        def die_between_commits(_answer) -> None:
            if next(settlements) == die_at:
                os.kill(os.getpid(), signal.SIGKILL)

        ctx.hooks["after_insured_commit"] = die_between_commits
