"""The server's clock for dates of care: a stay cannot be settled before it has happened.

A discharge (or admission, or visit) date after today was accepted before and did real harm: the annual cap
is the cap of the year of discharge (``SettleCommand.endtime.year``), so a stay "discharged" in 2099 opened a
fresh, unused cap and was paid in full for a person whose cap was used up; and the settlement was dated by its
discharge, so it stayed out of every monthly clearing until 2099. Dates of care are therefore refused when they
lie after the settlement's own date — by default the server's today plus a small stated tolerance for clocks
that run a little apart (``YIDI_CARE_CLOCK_TOLERANCE_SECONDS``, 300 s) — and a settlement is dated by the server
clock, never by a date the caller sent (services/settlements.py).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from yidi.config import get_settings
from yidi.domain.errors import YidiError


def latest_care_date(now: datetime | None = None) -> date:
    """The last date of care accepted now: the server's local date, ``care_clock_tolerance_seconds`` ahead."""
    tolerance = get_settings().care_clock_tolerance_seconds
    return ((now or datetime.now()) + timedelta(seconds=tolerance)).date()


def refuse_future_care(*, on: date | None = None, **dates: date | None) -> None:
    """CARE_DATE_IN_FUTURE naming the first of ``dates`` after ``on`` (default: ``latest_care_date()``)."""
    limit = on if on is not None else latest_care_date()
    for name, value in dates.items():
        if value is not None and value > limit:
            raise YidiError("CARE_DATE_IN_FUTURE", {
                "field": name, "value": value.isoformat(), "now": limit.isoformat() if on is not None else
                datetime.now().strftime("%Y-%m-%d %H:%M"), "tolerance": get_settings().care_clock_tolerance_seconds})
