"""The scenario runner's contract (scenarios.md): step keys, result fields, yuan strings, expect / expect_error /
expect_ok, unknown keys are errors, exit 0 / 1 / 2 from the real command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from yidi.services.scenario import ScenarioFormatError, load_scenario, run_scenario_file

PERSON = '  - {psn_no: P001, name: 张三, certno: "410802195501011234", insuplc_admdvs: "410800", insutype: "310"}\n'
FILE = ('  - {id: f1, do: file, psn_no: P001, type: retired_relocated, basis: commitment, mdtrtarea_admvs: "110000",'
        ' begndate: 2023-01-10, apply_date: 2023-01-10}\n')
SETTLE = ('  - {id: s1, do: settle, psn_no: P001, fixmedins_code: H11000000001, med_type: "21", begntime: 2023-03-01,'
          ' endtime: 2023-03-10, items: [{code: X007, amount: "12000.00"}]%s}\n')


def _write(tmp_path: Path, steps: str, persons: str = PERSON, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"name: 测试\npersons:\n{persons}steps:\n{steps}", encoding="utf-8")
    return path


def _run(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "yidi.cli", "scenario", "run", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_result_fields_are_yuan_strings_with_two_decimals(tmp_path):
    report = run_scenario_file(_write(tmp_path, FILE + SETTLE % ""))
    filed, settled = (step.to_dict() for step in report.steps)
    assert set(filed["result"]) >= {"filing_id", "status", "begndate", "enddate"}
    assert filed["result"]["begndate"] == "2023-01-10" and filed["result"]["enddate"] is None
    result = settled["result"]
    for key in ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
                "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "psn_part_amt"):
        assert isinstance(result[key], str) and len(result[key].split(".")[1]) == 2, key
    assert result["setl_id"] and isinstance(result["trace"], list)
    assert result["hifp_pay"] == "9435.00"


@pytest.mark.parametrize("expect, mismatch", [
    ('hifp_pay: 9435', None), ('hifp_pay: "9435"', None), ('hifp_pay: 9435.00', None),
    ('hifp_pay: "9435.01"', "s1.hifp_pay"), ('no_such_field: "1.00"', "s1.no_such_field"),
])
def test_expect_compares_money_by_value(tmp_path, expect, mismatch):
    report = run_scenario_file(_write(tmp_path, FILE + SETTLE % f", expect: {{{expect}}}"))
    assert report.mismatches == ([] if mismatch is None else [m for m in report.mismatches if m.startswith(mismatch)])
    if mismatch:
        assert report.mismatches


def test_expect_error_and_expect_ok(tmp_path):
    steps = (SETTLE % ", expect_error: NOT_FILED") + FILE.replace("f1", "f2") + \
        (SETTLE % ", expect_ok: true").replace("s1", "s2").replace("2023-03-01, endtime: 2023-03-10", "2023-04-01, endtime: 2023-04-10") + \
        (SETTLE % ", expect_ok: false").replace("s1", "s3").replace("2023-03-01, endtime: 2023-03-10", "2023-04-01, endtime: 2023-04-10")
    report = run_scenario_file(_write(tmp_path, steps))
    assert report.mismatches == []
    wrong = run_scenario_file(_write(tmp_path, SETTLE % ", expect_error: DUPLICATE_CLAIM", name="w.yaml"))
    assert wrong.mismatches == ["s1: expected error DUPLICATE_CLAIM, got NOT_FILED"]
    ok_wanted = run_scenario_file(_write(tmp_path, SETTLE % ", expect_ok: true", name="o.yaml"))
    assert ok_wanted.mismatches and ok_wanted.mismatches[0].startswith("s1: expected ok, got NOT_FILED")


@pytest.mark.parametrize("steps", [
    SETTLE % ", colour: red",                                   # unknown step key
    SETTLE % ", expect_error: 7",                                # expect_error must be a code
    SETTLE % ", expect_ok: yes please",                          # expect_ok must be a bool
    SETTLE % ", expect: [1]",                                    # expect must be a mapping
    "  - {id: a, do: dance}\n",                                  # unknown do
    "  - {do: settle}\n",                                        # no id
    FILE + FILE,                                                 # duplicate id
])
def test_malformed_files_raise_format_error(tmp_path, steps):
    with pytest.raises(ScenarioFormatError):
        load_scenario(_write(tmp_path, steps))


def test_unknown_top_level_and_person_keys_are_errors(tmp_path):
    with pytest.raises(ScenarioFormatError):
        load_scenario(_write(tmp_path, FILE, persons=PERSON.replace("insutype", "colour: 1, insutype")))
    path = tmp_path / "top.yaml"
    path.write_text("name: x\nsteps: []\nextra: 1\n", encoding="utf-8")
    with pytest.raises(ScenarioFormatError):
        load_scenario(path)


def test_missing_or_impossible_field_is_invalid_input_not_a_crash(tmp_path):
    steps = (SETTLE % "").replace(" endtime: 2023-03-10,", "") + \
        (SETTLE % "").replace("s1", "s2").replace("2023-03-10", "2023-02-30")
    report = run_scenario_file(_write(tmp_path, FILE + steps))
    codes = [step.error["code"] for step in report.steps[1:]]
    assert codes == ["INVALID_INPUT", "INVALID_INPUT"]
    assert "endtime" in report.steps[1].error["message"] and "endtime" in report.steps[2].error["message"]


def test_demo_persons_exist_unless_declared(tmp_path):
    report = run_scenario_file(_write(tmp_path, FILE.replace("P001", "P002").replace("retired_relocated",
                                                                                      "long_term_resident"), persons=""))
    assert report.steps[0].ok, report.steps[0].error


def test_cli_exit_codes_and_one_json_document(tmp_path):
    good = _run(_write(tmp_path, FILE + SETTLE % ', expect: {hifp_pay: "9435.00"}', name="good.yaml"))
    assert good.returncode == 0, good.stderr
    document = json.loads(good.stdout)
    assert document["scenario"] == "测试" and [s["id"] for s in document["steps"]] == ["f1", "s1"]
    refused = _run(_write(tmp_path, SETTLE % "", name="refused.yaml"))  # a failing step without expectations
    assert refused.returncode == 0 and json.loads(refused.stdout)["steps"][0]["error"]["code"] == "NOT_FILED"
    mismatch = _run(_write(tmp_path, FILE + SETTLE % ', expect: {hifp_pay: "1.00"}', name="bad.yaml"))
    assert mismatch.returncode == 1 and "s1.hifp_pay" in mismatch.stderr
    malformed = _run(_write(tmp_path, SETTLE % ", colour: red", name="malformed.yaml"))
    assert malformed.returncode == 2 and malformed.stdout == ""
    missing = _run(tmp_path / "does-not-exist.yaml")
    assert missing.returncode == 2


def test_a_person_without_a_name_is_named_by_psn_no(tmp_path):
    persons = PERSON.replace(" name: 张三,", "")
    report = run_scenario_file(_write(tmp_path, FILE + SETTLE % ', expect: {hifp_pay: "9435.00"}', persons=persons))
    assert report.mismatches == []
    with pytest.raises(ScenarioFormatError):  # the keys that decide benefits stay required
        load_scenario(_write(tmp_path, FILE, persons=PERSON.replace(' insutype: "310"', ""), name="t.yaml"))
