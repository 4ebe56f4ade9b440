"""Treatment catalogs (a new dated version from a CSV/Excel table), dated policy YAML files and 医保目录对照
imported into the operator's policy folder and database; nothing invalid is installed (issue 19)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tests.ops.test_accounts import cli  # noqa: F401
from tests.ops.test_imports import write_csv, write_xlsx
from yidi.config import get_settings
from yidi.domain.errors import YidiError
from yidi.policy.loader import load_policy_book
from yidi.services import imports, policy_files, visits

CATALOG_HEADERS = ["医保目录编码", "项目名称", "收费项目等级", "先行自付比例", "最高限价", "医疗收费项目类别", "特药标志"]


@pytest.fixture
def policy_dir(tmp_path, monkeypatch) -> Path:
    folder = policy_files.init_policy_dir(tmp_path / "policy")
    monkeypatch.setenv("YIDI_POLICY_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def test_catalog_import_adds_a_dated_version(policy_dir, tmp_path):
    bad = write_csv(tmp_path / "bad.csv", [CATALOG_HEADERS,
                                          ["X003", "人工晶体", "丁类", "", "", "08", ""],
                                          ["X001", "阿莫西林胶囊", "甲类", "10%", "", "09", ""],
                                          ["X001", "重复", "甲类", "", "", "09", ""]])
    report = policy_files.check_catalog(bad, "110000", date(2025, 1, 1), "京医保发〔2024〕1号")
    assert [(p.row, p.column) for p in report.problems] == [(2, "收费项目等级"), (3, "先行自付比例"),
                                                          (4, "医保目录编码")]
    assert "乙类" in report.problems[1].message  # only 乙类 items carry a 先行自付 share
    before = (policy_dir / "catalogs/110000.yaml").read_text(encoding="utf-8")
    with pytest.raises(YidiError):
        policy_files.install(report)
    assert (policy_dir / "catalogs/110000.yaml").read_text(encoding="utf-8") == before

    good = write_xlsx(tmp_path / "catalog.xlsx", [CATALOG_HEADERS,
                                                 ["X003", "人工晶体", "乙类", "15%", "2800.00", "08", ""],
                                                 ["X009", "新特药", "乙类", "10%", "", "9", "是"]])
    report = policy_files.check_catalog(good, "110000", date(2025, 1, 1), "京医保发〔2024〕1号")
    assert report.ok, report.problems
    assert any("X002" in note for note in report.notes)  # items of earlier versions not in the file are named
    policy_files.install(report)
    book = load_policy_book()  # YIDI_POLICY_DIR
    new, old = book.catalog("110000", date(2025, 2, 1)), book.catalog("110000", date(2024, 12, 31))
    assert new.items["X003"].price_limit == 280000 and new.items["X003"].selfpay_prop == 1500
    assert new.items["X009"].special_drug and new.items["X009"].med_chrgitm_type == "09"
    assert old.items["X003"].price_limit == 300000 and "X009" not in old.items
    older = policy_files.check_catalog(good, "110000", date(2024, 6, 1), "京医保发〔2024〕1号")
    assert "须晚于" in str(older.problems[0])


def test_policy_file_import_checks_the_whole_book(policy_dir, tmp_path):
    current = (policy_dir / "insured/410800.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "410800.yaml"
    broken.write_text(current + """  - effective_from: 2026-01-01
    source: "焦医保〔2025〕1号"
    benefits:
      inpatient:
        "310":
          ratio: {value: {1: "120%", 2: "90%", 3: "85%"}, source: "焦医保〔2025〕1号"}
""", encoding="utf-8")
    report = policy_files.check_policy_file(broken)
    assert report.target == "insured/410800.yaml" and not report.ok
    assert any("410800.yaml" in str(p) for p in report.problems)
    assert (policy_dir / "insured/410800.yaml").read_text(encoding="utf-8") == current
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(broken.read_text(encoding="utf-8").replace('"120%"', '"97%"'), encoding="utf-8")
    report = policy_files.check_policy_file(fixed)
    assert report.ok, report.problems
    policy_files.install(report)
    book = load_policy_book()
    assert book.insured_policy("410800", date(2026, 3, 1)).params.benefits.inpatient["310"].ratio.value[1] == 9700
    assert book.insured_policy("410800", date(2025, 3, 1)).params.benefits.inpatient["310"].ratio.value[1] == 9500


def test_cli_catalog_and_policy_need_the_policy_folder(ctx, cli, tmp_path, monkeypatch):  # noqa: F811
    table = write_csv(tmp_path / "c.csv", [CATALOG_HEADERS, ["X001", "阿莫西林胶囊", "甲类", "", "", "09", ""]])
    monkeypatch.delenv("YIDI_POLICY_DIR", raising=False)
    get_settings.cache_clear()
    missing = cli("import", "catalog", str(table), "--admdvs", "110000", "--effective-from", "2025-01-01",
                  "--source", "京医保发〔2024〕1号")
    assert missing.exit_code == 2 and "yidi policy init" in missing.output
    folder = tmp_path / "policy"
    assert cli("policy", "init", str(folder)).exit_code == 0
    monkeypatch.setenv("YIDI_POLICY_DIR", str(folder))
    get_settings.cache_clear()
    dry = cli("import", "catalog", str(table), "--admdvs", "110000", "--effective-from", "2025-01-01",
              "--source", "京医保发〔2024〕1号", "--dry-run")
    assert dry.exit_code == 0 and "检查通过" in dry.stdout
    assert "2025-01-01" not in (folder / "catalogs/110000.yaml").read_text(encoding="utf-8")
    done = cli("import", "catalog", str(table), "--admdvs", "110000", "--effective-from", "2025-01-01",
               "--source", "京医保发〔2024〕1号")
    assert done.exit_code == 0, done.output
    assert "2025-01-01" in (folder / "catalogs/110000.yaml").read_text(encoding="utf-8")
    assert cli("policy", "check", "--on", "2025-02-01").exit_code == 0


def test_item_mapping_lets_a_hospital_send_its_own_codes(ctx, tmp_path):
    path = write_csv(tmp_path / "map.csv", [["定点医药机构编号", "医药机构目录编码", "医保目录编码", "项目名称"],
                                            ["H11000000001", "BJ-CT-01", "X006", "CT平扫"],
                                            ["H99999999999", "Z1", "X001", ""]])
    report = imports.check(ctx, "mappings", path)
    assert [(p.row, p.column) for p in report.problems] == [(3, "定点医药机构编号")]
    write_csv(path, [["定点医药机构编号", "医药机构目录编码", "医保目录编码", "项目名称"],
                     ["H11000000001", "BJ-CT-01", "X006", "CT平扫"]])
    imports.apply(ctx, "mappings", path, actor="test")
    visit = visits.register(ctx, fixmedins_code="H11000000001", psn_no="P001", med_type="21",
                            begntime=date(2024, 3, 1))
    rows = visits.upload_fees(ctx, fixmedins_code="H11000000001", mdtrt_id=visit.mdtrt_id, lines=[
        visits.FeeLine("1", "", 30000, Decimal(1), medins_list_codg="BJ-CT-01")])
    assert rows[0].split.code == "X006" and rows[0].split.chrgitm_lv == "01"
    with pytest.raises(YidiError) as unmapped:
        visits.upload_fees(ctx, fixmedins_code="H11000000001", mdtrt_id=visit.mdtrt_id, lines=[
            visits.FeeLine("2", "", 100, Decimal(1), medins_list_codg="UNKNOWN")])
    assert unmapped.value.code == "INVALID_INPUT" and "目录对照" in unmapped.value.message
