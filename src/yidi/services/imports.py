"""Import reference data from the tables agencies exchange (CSV or Excel, Chinese column headers): regions,
persons (insurance status and personal-account balance), institutions (level, kind, region, network status).

Every import reads the whole file first and checks every row (``check``): the report lists, row by row, what
is wrong in plain Chinese (row numbers as a spreadsheet shows them: the header is row 1). A dry run stops
there. ``apply`` writes only a file without a single problem, in one transaction (all rows or none), with one
audit row per import; existing records (same key) are updated, new ones added.

File formats: ``.csv`` in UTF-8 (with or without BOM) or GBK, which spreadsheet programs on Chinese systems
write; ``.xlsx`` (openpyxl, first worksheet). Headers are matched by name (several spellings each, see
``LAYOUTS``); column order does not matter and unknown columns are ignored. The layouts are documented in
docs/operations.md.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Hashable, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from yidi.adapters.orm import InstitutionRow, PersonRow, RegionRow
from yidi.adapters.orm_mapping import ItemMappingRow
from yidi.domain.errors import YidiError
from yidi.domain.money import MoneyFormatError, yuan_to_fen
from yidi.domain.regions import is_valid_admdvs, province_of
from yidi.services import audit
from yidi.services.context import AppContext
from yidi.services.reference import certno_problem

Rows = list[tuple[int, list[Any]]]  # (spreadsheet row number, cell values)
_Value = TypeVar("_Value")
_Key = TypeVar("_Key", bound=Hashable)

# field -> accepted header spellings (the first is the one the documentation shows)
LAYOUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "regions": {
        "admdvs": ("区划代码", "行政区划代码", "医保区划", "admdvs"),
        "name": ("区划名称", "名称", "name"),
    },
    "persons": {
        "psn_no": ("人员编号", "个人编号", "psn_no"),
        "name": ("姓名", "人员姓名", "psn_name", "name"),
        "certno": ("证件号码", "公民身份号码", "身份证号", "certno"),
        "insuplc_admdvs": ("参保地区划", "参保地医保区划", "参保地", "insuplc_admdvs"),
        "insutype": ("险种类型", "险种", "insutype"),
        "insu_status": ("参保状态", "insu_status"),
        "acct_balc": ("个人账户余额", "账户余额", "acct_balc"),
    },
    "mappings": {
        "fixmedins_code": ("定点医药机构编号", "机构编码", "定点机构编码", "fixmedins_code"),
        "medins_list_codg": ("医药机构目录编码", "医院项目编码", "院内编码", "medins_list_codg"),
        "med_list_codg": ("医保目录编码", "医疗目录编码", "目录编码", "med_list_codg"),
        "name": ("项目名称", "医药机构目录名称", "name"),
    },
    "institutions": {
        "fixmedins_code": ("定点医药机构编号", "机构编码", "定点机构编码", "fixmedins_code"),
        "name": ("定点医药机构名称", "机构名称", "fixmedins_name", "name"),
        "level": ("医院等级", "机构等级", "level"),
        "kind": ("机构类型", "kind"),
        "admdvs": ("所在区划", "医保区划", "所在地区划", "admdvs"),
        "networked": ("异地联网状态", "开通异地联网", "联网状态", "networked"),
    },
}
REQUIRED = {
    "regions": ("admdvs", "name"),
    "persons": ("psn_no", "name", "certno", "insuplc_admdvs", "insutype"),
    "institutions": ("fixmedins_code", "name", "level", "admdvs"),
    "mappings": ("fixmedins_code", "medins_list_codg", "med_list_codg"),
}
INSUTYPES = {"310": "310", "职工": "310", "职工基本医疗保险": "310", "城镇职工基本医疗保险": "310",
             "390": "390", "居民": "390", "城乡居民基本医疗保险": "390", "城乡居民医保": "390"}
INSU_STATUSES = {"": "active", "active": "active", "正常": "active", "正常参保": "active", "参保缴费": "active",
                 "suspended": "suspended", "暂停": "suspended", "暂停参保": "suspended", "暂停缴费": "suspended",
                 "ended": "ended", "终止": "ended", "终止参保": "ended"}
LEVELS = {"1": 1, "2": 2, "3": 3, "一级": 1, "二级": 2, "三级": 3, "一级医院": 1, "二级医院": 2, "三级医院": 3}
KINDS = {"": "hospital", "hospital": "hospital", "医院": "hospital", "医疗机构": "hospital",
         "pharmacy": "pharmacy", "药店": "pharmacy", "定点药店": "pharmacy", "零售药店": "pharmacy"}
YES_NO = {"": True, "是": True, "已开通": True, "开通": True, "1": True, "true": True, "y": True,
          "否": False, "未开通": False, "关闭": False, "0": False, "false": False, "n": False}


@dataclass(frozen=True)
class Problem:
    row: int  # as the spreadsheet shows it (header = 1); 0 = the file as a whole
    column: str
    message: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" if self.row else "文件"
        return f"{where}{f' [{self.column}]' if self.column else ''}：{self.message}"


@dataclass
class Report:
    kind: str
    rows: int = 0
    added: int = 0
    updated: int = 0
    problems: list[Problem] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)  # the checked rows, ready to write

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------------- reading ----
def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def read_table(path: Path) -> tuple[list[str], Rows]:
    """(headers, [(spreadsheet row number, values)]) of a .csv or .xlsx file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            rows = list(book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()
    else:
        raw = path.read_bytes()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return [], []
    headers = [_text(h) for h in rows[0]]
    body = [(number, list(values)) for number, values in enumerate(rows[1:], start=2)
            if any(_text(v) for v in values)]
    return headers, body


def _columns(kind: str, headers: list[str], report: Report) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, spellings in LAYOUTS[kind].items():
        for index, header in enumerate(headers):
            if header in spellings or header.lower() in spellings:
                found[name] = index
                break
    for name in REQUIRED[kind]:
        if name not in found:
            report.problems.append(Problem(1, LAYOUTS[kind][name][0], f"缺少列“{LAYOUTS[kind][name][0]}”"))
    return found


# --------------------------------------------------------------------------------- checking ----
def _pick(mapping: dict[str, _Value], value: str, row: int, column: str, what: str, report: Report) -> _Value | None:
    key = value.strip()
    if key in mapping:
        return mapping[key]
    if key.lower() in mapping:
        return mapping[key.lower()]
    choices = "、".join(k for k in mapping if k and not k.isascii())
    report.problems.append(Problem(row, column, f"{what}“{value}”无法识别（可填：{choices}）"))
    return None


def _required(value: str, max_len: int, row: int, column: str, report: Report) -> bool:
    """A required text of at most ``max_len`` characters; False, with the row's problem noted, otherwise."""
    if value and len(value) <= max_len:
        return True
    report.problems.append(Problem(row, column, f"不能为空，且不超过{max_len}个字符"))
    return False


def _first_seen(key: _Key, shown: str, row: int, column: str, seen: dict[_Key, int], report: Report) -> None:
    """A key the file may give once: a repeat names the row that gave it first."""
    if key in seen:
        report.problems.append(Problem(row, column, f"{shown} 与第 {seen[key]} 行重复"))
    seen.setdefault(key, row)


def _cells(values: list[Any], columns: dict[str, int]) -> Callable[[str], str]:
    """A row's cell by field name, as text ("" for a column the file lacks or a short row)."""
    return lambda name: _text(values[columns[name]]) if columns.get(name, len(values)) < len(values) else ""


def _regions(ctx: AppContext) -> set[str]:
    with ctx.unit_of_work() as session:
        return set(session.scalars(select(RegionRow.admdvs)))


def _check_regions(ctx: AppContext, rows: Rows, columns: dict[str, int], report: Report) -> None:
    seen: set[str] = set()
    for number, values in rows:
        get = _cells(values, columns)
        code, name = get("admdvs"), get("name")
        if not is_valid_admdvs(code):
            report.problems.append(Problem(number, "区划代码", f"“{code}”不是6位行政区划代码"))
            continue
        if code in seen:
            report.problems.append(Problem(number, "区划代码", f"{code} 在文件中重复"))
        seen.add(code)
        if not name:
            report.problems.append(Problem(number, "区划名称", "不能为空"))
        report.records.append({"admdvs": code, "name": name[:50], "province": province_of(code)})


def _check_persons(ctx: AppContext, rows: Rows, columns: dict[str, int], report: Report) -> None:
    regions = _regions(ctx)
    with ctx.unit_of_work() as session:
        certno_owner = dict(session.execute(select(PersonRow.certno, PersonRow.psn_no)).all())
    seen_psn: dict[str, int] = {}
    seen_cert: dict[str, int] = {}
    for number, values in rows:
        get = _cells(values, columns)
        psn_no, name, certno = get("psn_no"), get("name"), get("certno").upper()
        before = len(report.problems)
        if _required(psn_no, 30, number, "人员编号", report):
            _first_seen(psn_no, psn_no, number, "人员编号", seen_psn, report)
        _required(name, 50, number, "姓名", report)
        raw_certno = values[columns["certno"]] if columns["certno"] < len(values) else None
        if isinstance(raw_certno, (int, float)):
            report.problems.append(Problem(number, "证件号码", "单元格是数字，末几位可能已丢失；请把该列设为文本格式后重新导出"))
        problem = certno_problem(certno)
        if problem:
            report.problems.append(Problem(number, "证件号码", problem))
        elif certno in seen_cert:
            report.problems.append(Problem(number, "证件号码", f"与第 {seen_cert[certno]} 行重复"))
        elif certno_owner.get(certno, psn_no) != psn_no:
            report.problems.append(Problem(number, "证件号码", f"已登记给人员 {certno_owner[certno]}"))
        seen_cert.setdefault(certno, number)
        region = get("insuplc_admdvs")
        if region not in regions:
            report.problems.append(Problem(number, "参保地区划", f"{region or '（空）'} 不在区划目录中（先导入区划）"))
        insutype = _pick(INSUTYPES, get("insutype"), number, "险种类型", "险种", report)
        status = _pick(INSU_STATUSES, get("insu_status"), number, "参保状态", "参保状态", report)
        balance = 0
        if get("acct_balc"):
            try:
                balance = yuan_to_fen(get("acct_balc"))
                if balance < 0:
                    raise MoneyFormatError("negative")
            except (MoneyFormatError, ValueError):
                report.problems.append(Problem(number, "个人账户余额", f"“{get('acct_balc')}”应为不小于0的金额（元，最多两位小数）"))
        if len(report.problems) == before:
            report.records.append({"psn_no": psn_no, "name": name, "certno": certno, "insuplc_admdvs": region,
                                   "insutype": insutype, "insu_status": status, "acct_balc": balance})


def _check_institutions(ctx: AppContext, rows: Rows, columns: dict[str, int], report: Report) -> None:
    regions = _regions(ctx)
    seen: dict[str, int] = {}
    for number, values in rows:
        get = _cells(values, columns)
        code, name = get("fixmedins_code"), get("name")
        before = len(report.problems)
        if _required(code, 20, number, "定点医药机构编号", report):
            _first_seen(code, code, number, "定点医药机构编号", seen, report)
        _required(name, 100, number, "定点医药机构名称", report)
        level = _pick(LEVELS, get("level"), number, "医院等级", "医院等级", report)
        kind = _pick(KINDS, get("kind"), number, "机构类型", "机构类型", report)
        networked = _pick(YES_NO, get("networked"), number, "异地联网状态", "异地联网状态", report)
        region = get("admdvs")
        if region not in regions:
            report.problems.append(Problem(number, "所在区划", f"{region or '（空）'} 不在区划目录中（先导入区划）"))
        if len(report.problems) == before:
            report.records.append({"fixmedins_code": code, "name": name, "level": level, "kind": kind,
                                   "admdvs": region, "networked": networked})


def _check_mappings(ctx: AppContext, rows: Rows, columns: dict[str, int], report: Report) -> None:
    with ctx.unit_of_work() as session:
        institutions = set(session.scalars(select(InstitutionRow.fixmedins_code)))
    seen: dict[tuple[str, str], int] = {}
    for number, values in rows:
        get = _cells(values, columns)
        code, own, catalog = get("fixmedins_code"), get("medins_list_codg"), get("med_list_codg")
        before = len(report.problems)
        if code not in institutions:
            report.problems.append(Problem(number, "定点医药机构编号", f"{code or '（空）'} 不在机构目录中（先导入机构）"))
        if _required(own, 40, number, "医药机构目录编码", report):
            _first_seen((code, own), own, number, "医药机构目录编码", seen, report)
        _required(catalog, 40, number, "医保目录编码", report)
        if len(report.problems) == before:
            report.records.append({"fixmedins_code": code, "medins_list_codg": own, "med_list_codg": catalog,
                                   "name": get("name")[:100]})


CHECKS: dict[str, Callable[[AppContext, Rows, dict[str, int], Report], None]] = {"regions": _check_regions, "persons": _check_persons,
                               "institutions": _check_institutions, "mappings": _check_mappings}
TABLES = {"regions": RegionRow, "persons": PersonRow, "institutions": InstitutionRow, "mappings": ItemMappingRow}
KEYS = {"regions": ("admdvs",), "persons": ("psn_no",), "institutions": ("fixmedins_code",),
        "mappings": ("fixmedins_code", "medins_list_codg")}


def _existing(session: Session, kind: str) -> set[tuple[Any, ...]]:
    table = TABLES[kind]
    return {tuple(row) for row in session.execute(select(*(getattr(table, name) for name in KEYS[kind]))).all()}


def _key(kind: str, record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record[name] for name in KEYS[kind])


def check(ctx: AppContext, kind: str, path: Path) -> Report:
    """Read and check every row; nothing is written."""
    if kind not in CHECKS:
        raise YidiError("INVALID_INPUT", {"field": "kind", "detail": f"（应为 {'、'.join(CHECKS)}）"})
    report = Report(kind)
    try:
        headers, rows = read_table(path)
    except FileNotFoundError:
        report.problems.append(Problem(0, "", f"文件 {path} 不存在"))
        return report
    except Exception as exc:  # noqa: BLE001 - a damaged file is a problem to report, not a crash
        report.problems.append(Problem(0, "", f"无法读取文件（{type(exc).__name__}）：请另存为 .xlsx 或 UTF-8 .csv"))
        return report
    report.rows = len(rows)
    columns = _columns(kind, headers, report)
    if report.problems:
        return report
    if not rows:
        report.problems.append(Problem(0, "", "文件中没有数据行"))
        return report
    CHECKS[kind](ctx, rows, columns, report)
    with ctx.unit_of_work() as session:
        existing = _existing(session, kind)
    report.updated = sum(1 for record in report.records if _key(kind, record) in existing)
    report.added = len(report.records) - report.updated
    return report


def apply(ctx: AppContext, kind: str, path: Path, *, actor: str) -> Report:
    """Check, then write every row in one transaction; a file with any problem writes nothing."""
    report = check(ctx, kind, path)
    if not report.ok:
        raise YidiError("IMPORT_REJECTED", {"count": len(report.problems)})
    table = TABLES[kind]
    with ctx.unit_of_work() as session:
        existing = _existing(session, kind)
        new = [r for r in report.records if _key(kind, r) not in existing]
        changed = [r for r in report.records if _key(kind, r) in existing]
        for start in range(0, len(new), 5000):
            session.execute(insert(table), new[start:start + 5000])
        for start in range(0, len(changed), 5000):
            session.execute(update(table), changed[start:start + 5000])  # bulk UPDATE by primary key
        audit.record(session, actor, f"import.{kind}", Path(path).name[:80],
                     {"rows": report.rows, "added": len(new), "updated": len(changed)})
    report.added, report.updated = len(new), len(changed)
    return report
