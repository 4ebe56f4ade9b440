"""`yidi import regions|persons|institutions FILE [--dry-run]` on SQLite and PostgreSQL: CSV (UTF-8 and GBK)
and Excel with the Chinese headers agencies exchange; a dry run reports row by row in Chinese; an apply
writes all rows or none (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from tests.ops.test_accounts import cli  # noqa: F401
from yidi.adapters.orm import AuditRow, InstitutionRow, PersonRow, RegionRow
from yidi.domain.errors import YidiError
from yidi.services import imports
from yidi.services.reference import get_institution

PERSON_HEADERS = ["人员编号", "姓名", "证件号码", "参保地区划", "险种类型", "参保状态", "个人账户余额"]


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8-sig") -> Path:
    path.write_text("\n".join(",".join(str(v) for v in row) for row in rows) + "\n", encoding=encoding)
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def person_count(ctx) -> int:
    with ctx.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(PersonRow))


def test_persons_dry_run_reports_every_wrong_row_in_chinese_and_writes_nothing(ctx, tmp_path):
    path = write_csv(tmp_path / "persons.csv", [
        PERSON_HEADERS,
        ["Q001", "王一", "410802196001011234", "410800", "职工", "正常参保", "1234.56"],
        ["Q002", "王二", "41080219600101123", "410800", "居民", "暂停参保", "-1"],
        ["Q003", "王三", "410802196013011234", "999999", "学生", "休眠", "12.345"],
        ["Q001", "王四", "410802195501011234", "410800", "职工", "", ""],  # P001's certno, Q001 twice
    ])
    before = person_count(ctx)
    report = imports.check(ctx, "persons", path)
    assert [(p.row, p.column) for p in report.problems] == [
        (3, "证件号码"), (3, "个人账户余额"),
        (4, "证件号码"), (4, "参保地区划"), (4, "险种类型"), (4, "参保状态"), (4, "个人账户余额"),
        (5, "人员编号"), (5, "证件号码")]
    messages = [str(p) for p in report.problems]
    assert messages[0] == "第 3 行 [证件号码]：证件号码应为18位（最后一位可为X）"
    assert "出生日期" in messages[2] and "999999 不在区划目录中" in messages[3]
    assert "与第 2 行重复" in messages[7] and "已登记给人员 P001" in messages[8]
    with pytest.raises(YidiError) as rejected:
        imports.apply(ctx, "persons", path, actor="test")
    assert rejected.value.code == "IMPORT_REJECTED" and "9 处错误" in rejected.value.message
    assert person_count(ctx) == before


def test_persons_from_excel_add_and_update_atomically(ctx, tmp_path):
    path = write_xlsx(tmp_path / "persons.xlsx", [
        ["序号", *PERSON_HEADERS],  # an extra column is ignored
        [1, "Q010", "钱十", "410802197001011236", "410800", "城乡居民基本医疗保险", "正常参保", 88.8],
        [2, "P001", "张三", "410802195501011234", "410800", "310", "暂停参保", "1000.00"],
    ])
    report = imports.check(ctx, "persons", path)
    assert report.ok, report.problems
    assert (report.added, report.updated) == (1, 1)
    imports.apply(ctx, "persons", path, actor="cli:test")
    with ctx.unit_of_work() as session:
        new = session.get(PersonRow, "Q010")
        assert (new.insutype, new.insu_status, new.acct_balc) == ("390", "active", 8880)
        p001 = session.get(PersonRow, "P001")
        assert (p001.insu_status, p001.acct_balc) == ("suspended", 100000)
        audit_row = session.scalars(select(AuditRow).where(AuditRow.action == "import.persons")).one()
        assert audit_row.actor == "cli:test" and audit_row.details["added"] == "1"


def test_excel_certificate_numbers_stored_as_numbers_are_refused(ctx, tmp_path):
    path = write_xlsx(tmp_path / "numbers.xlsx", [PERSON_HEADERS,
                                                  ["Q020", "孙二", 410802197001011236, "410800", "职工", "", ""]])
    report = imports.check(ctx, "persons", path)
    assert [p.column for p in report.problems] == ["证件号码"] and "文本格式" in report.problems[0].message


def test_regions_then_institutions_from_gbk_csv(ctx, tmp_path):
    regions = write_csv(tmp_path / "regions.csv", [["区划代码", "区划名称"], ["130000", "河北省"], ["130100", "石家庄市"]],
                        encoding="gbk")
    imports.apply(ctx, "regions", regions, actor="test")
    institutions = write_csv(tmp_path / "inst.csv", [
        ["定点医药机构编号", "定点医药机构名称", "医院等级", "机构类型", "所在区划", "异地联网状态"],
        ["H13010000001", "河北医科大学第二医院", "三级", "医院", "130100", "已开通"],
        ["H13010000002", "石家庄某药店", "一级", "定点药店", "130100", "未开通"],
        ["H41080000002", "焦作某社区卫生服务中心", "二级", "医院", "410800", "是"],  # an update: level 1 → 2
    ], encoding="gbk")
    report = imports.apply(ctx, "institutions", institutions, actor="test")
    assert (report.added, report.updated) == (2, 1)
    with ctx.unit_of_work() as session:
        assert session.get(RegionRow, "130100").province == "130000"
        hospital = get_institution(session, "H13010000001")
        assert (hospital.level, hospital.kind, hospital.networked) == (3, "hospital", True)
        assert session.get(InstitutionRow, "H41080000002").level == 2
        with pytest.raises(YidiError) as not_networked:
            get_institution(session, "H13010000002")  # 未开通: not a place to settle across regions
        assert not_networked.value.code == "UNKNOWN_INSTITUTION"


def test_missing_columns_and_wrong_values(ctx, tmp_path):
    path = write_csv(tmp_path / "inst.csv", [["机构编码", "机构名称", "所在区划"], ["H1", "某医院", "110000"]])
    report = imports.check(ctx, "institutions", path)
    assert [str(p) for p in report.problems] == ["第 1 行 [医院等级]：缺少列“医院等级”"]
    path = write_csv(tmp_path / "inst2.csv", [["机构编码", "机构名称", "医院等级", "所在区划", "异地联网状态"],
                                               ["H1", "某医院", "四级", "110000", "也许"]])
    report = imports.check(ctx, "institutions", path)
    assert [p.column for p in report.problems] == ["医院等级", "异地联网状态"]
    assert "可填：一级、二级、三级" in report.problems[0].message


def test_cli_dry_run_then_apply(ctx, cli, tmp_path):  # noqa: F811
    good = write_csv(tmp_path / "persons.csv", [PERSON_HEADERS,
                                                ["Q030", "周三", "410802198001011238", "420100", "居民", "正常", "0"]])
    bad = write_csv(tmp_path / "bad.csv", [PERSON_HEADERS, ["Q031", "", "x", "420100", "居民", "", ""]])
    dry = cli("import", "persons", str(bad), "--dry-run")
    assert dry.exit_code == 1 and "证件号码" in dry.stdout and "姓名" in dry.stdout
    assert "未导入任何数据" in dry.stdout
    checked = cli("import", "persons", str(good), "--dry-run")
    assert checked.exit_code == 0 and "将新增 1" in checked.stdout
    with ctx.unit_of_work() as session:
        assert session.get(PersonRow, "Q030") is None
    assert cli("import", "persons", str(good)).exit_code == 0
    with ctx.unit_of_work() as session:
        assert session.get(PersonRow, "Q030").insuplc_admdvs == "420100"
    assert cli("import", "persons", str(tmp_path / "nope.csv")).exit_code == 1
