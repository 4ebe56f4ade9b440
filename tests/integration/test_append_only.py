"""The audit log and filing history are append-only in the database itself, not only in code (I3)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from yidi.services.filings import FileCommand, file_filing


def test_i3_audit_log_refuses_update_and_delete(ctx):
    file_filing(ctx, FileCommand(psn_no="P005", filing_type="other_temporary", basis="proof",
                                 mdtrtarea_admvs="310000", begndate=date(2023, 5, 1), apply_date=date(2023, 5, 1),
                                 channel="window"))
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log",
                      "UPDATE filing_events SET reason = 'x'", "DELETE FROM filing_events"):
        with pytest.raises(DBAPIError):
            with ctx.engine.begin() as connection:
                connection.execute(text(statement))
    with ctx.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM audit_log")).scalar() >= 1
