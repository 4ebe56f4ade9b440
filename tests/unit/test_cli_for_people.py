"""Commands read as if written for the clerk at the terminal: no traceback for any input, a coded Chinese
line and exit 2 when a command cannot do what was asked, 未知地区 for an unknown region, tables with Chinese
column labels, whole identifiers and Chinese status words."""

from __future__ import annotations

import re
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.services.test_filings_cli import db  # noqa: F401 - the CLI's database: a real SQLite file
from yidi.cli import app
from yidi.services.filings import FileCommand, file_filing

runner = CliRunner()
ENGLISH_WORDS = re.compile(r"\b(temporary|other_temporary|manual_without_filing|pending|rejected|active|"
                           r"filing_id|psn_no|items\[\d+\])")


def _estimate(*args: str):
    return runner.invoke(app, ["estimate", "P001", "H11000000001", *args])


def _refused(result, code: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    assert code in result.output
    assert "接口文档" not in result.output and not ENGLISH_WORDS.search(result.output), result.output
    return result.output


def test_bad_and_impossible_dates_are_said_in_words_and_exit_2(db):
    out = _refused(_estimate("--begntime", "2024-02-30", "--endtime", "2024-03-01", "--item", "X007=100"),
                   "INVALID_INPUT")
    assert "没有 2024-02-30 这一天" in out
    out = _refused(_estimate("--begntime", "yesterday", "--endtime", "2024-03-01", "--item", "X007=100"),
                   "INVALID_INPUT")
    assert "不是日期" in out
    out = _refused(_estimate("--begntime", "2024-03-05", "--endtime", "2024-03-01", "--item", "X007=100"),
                   "INVALID_INPUT")
    assert "出院日期 2024-03-01 早于入院（就诊）日期 2024-03-05" in out.replace("\n", "")


def test_a_missing_or_bad_item_amount_names_the_row(db):
    out = _refused(_estimate("--begntime", "2024-03-01", "--endtime", "2024-03-05", "--item", "X007"),
                   "INVALID_INPUT")
    assert "第1行费用的金额" in out
    out = _refused(_estimate("--begntime", "2024-03-01", "--endtime", "2024-03-05", "--item", "X007=1",
                             "--item", "X004=abc"), "INVALID_INPUT")
    assert "第2行费用的金额" in out and "不是金额" in out


def test_unknown_region_is_said_as_unknown_region(db):
    for command in (["filing", "pending", "--region", "999999"], ["filing", "search", "--region", "990000"]):
        assert "未知地区" in _refused(runner.invoke(app, command), "UNKNOWN_REGION")


def test_unwritable_and_unreadable_paths_are_coded(db, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = _refused(runner.invoke(app, ["demo", "generate", "--claims", "10", "--out", str(blocker / "c.parquet")]),
                   "FILE_ACCESS")
    assert "无法读写文件" in out
    out = _refused(runner.invoke(app, ["simulate", "--policy-change", str(tmp_path / "none.yaml"),
                                       "--claims", str(blocker), "--out-dir", str(tmp_path / "out")]), "FILE_ACCESS")
    assert "不存在" in out


def test_tables_label_columns_in_chinese_show_whole_ids_and_chinese_status(db):
    filing = file_filing(db, FileCommand(psn_no="P001", filing_type="other_temporary", basis="proof",
                                         mdtrtarea_admvs="110000", begndate=date(2023, 6, 1),
                                         apply_date=date(2023, 6, 1), channel="app"))
    result = runner.invoke(app, ["filing", "pending", "--region", "410800"])
    assert result.exit_code == 0, result.output
    assert filing.filing_id in result.stdout  # whole, never "BA12…"
    assert "备案号" in result.stdout and "张三" in result.stdout and "其他临时外出就医" in result.stdout
    assert not ENGLISH_WORDS.search(result.stdout), result.stdout
    result = runner.invoke(app, ["filing", "search", "--region", "410800"])
    assert result.exit_code == 0 and filing.filing_id in result.stdout and "待审核" in result.stdout
    assert "…" not in result.stdout and not ENGLISH_WORDS.search(result.stdout), result.stdout


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(begin=st.text(max_size=12), end=st.text(max_size=12), item=st.text(max_size=16))
def test_no_traceback_for_any_input(db, begin, end, item):
    result = _estimate("--begntime", begin, "--endtime", end, "--item", item)
    assert result.exit_code in (0, 2), (begin, end, item, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
