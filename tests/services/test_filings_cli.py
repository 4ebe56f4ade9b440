"""`yidi filing search / history / pending / decide` — the clerk's batch commands on a real SQLite file."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from yidi.cli import app
from yidi.config import get_settings
from yidi.services.context import AppContext
from yidi.services.filings import FileCommand, file_filing, get_filing
from yidi.services.reference import load_reference

runner = CliRunner()


@pytest.fixture
def db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("YIDI_DATABASE_URL", url)
    get_settings.cache_clear()
    ctx = AppContext.from_url(url)
    load_reference(ctx)
    yield ctx
    ctx.engine.dispose()
    get_settings.cache_clear()


def _pending(ctx, psn_no="P001", area="110000", applied=date(2023, 6, 1)):
    return file_filing(ctx, FileCommand(psn_no=psn_no, filing_type="other_temporary", basis="proof",
                                        mdtrtarea_admvs=area, begndate=applied, apply_date=applied, channel="app"))


def test_f4_clerk_searches_decides_and_reads_history(db):
    first = _pending(db, applied=date(2023, 6, 1))
    second = _pending(db, psn_no="P004", area="310000", applied=date(2023, 6, 2))
    result = runner.invoke(app, ["filing", "search", "--region", "410800", "--status", "pending", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["filing_id"] for r in rows] == [second.filing_id, first.filing_id]
    assert rows[1]["approve_due_date"] == "2023-06-05"

    result = runner.invoke(app, ["filing", "search", "--certno", "410802195501011234", "--json"])
    assert [json.loads(line)["psn_no"] for line in result.stdout.splitlines()] == ["P001"]

    result = runner.invoke(app, ["filing", "pending", "--region", "410800"])
    assert result.exit_code == 0 and result.stdout.index("P001") < result.stdout.index("P004")  # oldest first

    result = runner.invoke(app, ["filing", "decide", first.filing_id, "--reject", "--reason", "材料不全",
                                 "--clerk", "clerk-jiaozuo"])
    assert result.exit_code == 0, result.output
    assert get_filing(db, first.filing_id).status.value == "rejected"
    result = runner.invoke(app, ["filing", "history", first.filing_id])
    assert result.exit_code == 0 and "未通过" in result.stdout and "材料不全" in result.stdout
    assert "clerk-jiaozuo" in result.stdout


def test_cli_refusals_are_coded_and_exit_2(db):
    result = runner.invoke(app, ["filing", "history", "BA-NOPE"])
    assert result.exit_code == 2 and "NOT_FOUND" in result.output
    result = runner.invoke(app, ["filing", "search", "--status", "open"])
    assert result.exit_code == 2 and "INVALID_INPUT" in result.output


def test_f5_clerk_records_an_insurance_status_change_and_the_filings_end(db):
    filing = file_filing(db, FileCommand(psn_no="P001", filing_type="retired_relocated", basis="proof",
                                         mdtrtarea_admvs="110000", begndate=date(2023, 1, 10),
                                         apply_date=date(2023, 1, 10), channel="window"))
    result = runner.invoke(app, ["filing", "insurance-status", "P001", "ended", "--on", "2023-06-01"])
    assert result.exit_code == 0, result.output
    assert filing.filing_id in result.output
    ended = get_filing(db, filing.filing_id)
    assert (ended.status.value, ended.enddate) == ("ended", date(2023, 5, 31))
    bad = runner.invoke(app, ["filing", "insurance-status", "P001", "gone", "--on", "2023-06-01"])
    assert bad.exit_code == 2 and "INVALID_INPUT" in bad.output
