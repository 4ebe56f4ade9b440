"""The operator's policy folder (``YIDI_POLICY_DIR``) and the imports that change it: a treatment catalog from
a CSV/Excel table (a new dated version), and a dated policy YAML file of an insured region or a catalog.

Policy stays data with one rule: nothing invalid is ever installed. Every change is written to a copy of the
folder first and the whole book is loaded from the copy (``collect_policy``: schema, national caps, dates);
only a change without a problem replaces the file (write + rename, atomic). Processes pick the change up when
they start (restart the service after an import: docs/operations.md).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from yidi.config import get_settings
from yidi.domain.errors import YidiError, invalid
from yidi.policy.loader import DATA_DIR, collect_policy
from yidi.domain.policy import CatalogItem
from yidi.services.imports import Problem, _text, read_table

CATALOG_COLUMNS = {
    "code": ("医保目录编码", "项目编码", "目录编码", "med_list_codg"),
    "name": ("项目名称", "目录名称", "名称", "name"),
    "chrgitm_lv": ("收费项目等级", "甲乙类", "目录类别", "chrgitm_lv"),
    "selfpay_prop": ("先行自付比例", "自付比例", "selfpay_prop"),
    "price_limit": ("最高限价", "限价（元）", "限价", "price_limit"),
    "med_chrgitm_type": ("医疗收费项目类别", "收费类别", "med_chrgitm_type"),
    "special_drug": ("特药标志", "特药", "special_drug"),
    "source": ("依据", "政策依据", "source"),
}
CATALOG_REQUIRED = ("code", "name", "chrgitm_lv", "med_chrgitm_type")
CLASSES = {"甲": "01", "甲类": "01", "01": "01", "1": "01", "乙": "02", "乙类": "02", "02": "02", "2": "02",
           "丙": "03", "丙类": "03", "自费": "03", "03": "03", "3": "03"}
FIELD_COLUMNS = {"name": "项目名称", "chrgitm_lv": "收费项目等级", "selfpay_prop": "先行自付比例",
                 "price_limit": "最高限价", "med_chrgitm_type": "医疗收费项目类别", "special_drug": "特药标志",
                 "source": "依据"}


@dataclass
class PolicyReport:
    target: str = ""  # the file inside the policy folder
    rows: int = 0
    problems: list[Any] = field(default_factory=list)  # Problem (table rows) or str (policy problems)
    notes: list[str] = field(default_factory=list)
    content: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def policy_dir() -> Path:
    configured = get_settings().policy_dir
    if not configured:
        raise invalid("YIDI_POLICY_DIR", "未设置：先运行 yidi policy init 目录，并在环境文件中设置 YIDI_POLICY_DIR")
    folder = Path(configured)
    if not (folder / "national.yaml").is_file():
        raise invalid("YIDI_POLICY_DIR", f"{folder} 不是政策目录（缺少 national.yaml）：先运行 yidi policy init {folder}")
    return folder


def init_policy_dir(target: Path) -> Path:
    """Copy the packaged policy data into ``target`` (an operator's starting point)."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise invalid("dir", f"{target} 已存在且不为空")
    shutil.copytree(DATA_DIR, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _validated(report: PolicyReport) -> None:
    """Load the whole book from a copy of the folder with ``report.content`` at ``report.target``."""
    folder = policy_dir()
    with tempfile.TemporaryDirectory(prefix="yidi-policy-") as scratch:
        copy = Path(scratch) / "policy"
        shutil.copytree(folder, copy)
        (copy / report.target).parent.mkdir(parents=True, exist_ok=True)
        (copy / report.target).write_text(report.content, encoding="utf-8")
        _, problems = collect_policy(copy)
    report.problems.extend(str(p) for p in problems)


def install(report: PolicyReport) -> Path:
    if not report.ok:
        raise YidiError("IMPORT_REJECTED", {"count": len(report.problems)})
    path = policy_dir() / report.target
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".yaml.tmp")
    temporary.write_text(report.content, encoding="utf-8")
    os.replace(temporary, path)  # atomic: readers see the old file or the new one
    return path


def _percent(text: str) -> str:
    text = text.strip().rstrip("%")
    value = float(text)
    if 0 < value < 1 and "." in text:  # 0.1 in a spreadsheet cell formatted as a percentage
        value *= 100
    return f"{value:g}%"


def check_catalog(path: Path, admdvs: str, effective_from: date, source: str = "") -> PolicyReport:
    """A treatment catalog table → a new dated version of catalogs/<admdvs>.yaml, checked row by row and then
    as part of the whole policy book."""
    report = PolicyReport(target=f"catalogs/{admdvs}.yaml")
    folder = policy_dir()
    try:
        headers, rows = read_table(path)
    except FileNotFoundError:
        report.problems.append(Problem(0, "", f"文件 {path} 不存在"))
        return report
    report.rows = len(rows)
    columns: dict[str, int] = {}
    for name, spellings in CATALOG_COLUMNS.items():
        for index, header in enumerate(headers):
            if header in spellings:
                columns[name] = index
                break
    for name in CATALOG_REQUIRED:
        if name not in columns:
            report.problems.append(Problem(1, CATALOG_COLUMNS[name][0], f"缺少列“{CATALOG_COLUMNS[name][0]}”"))
    if report.problems:
        return report
    items: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for number, values in rows:
        def get(name: str) -> str:
            index = columns.get(name)
            return _text(values[index]) if index is not None and index < len(values) else ""

        code = get("code")
        if not code:
            report.problems.append(Problem(number, "医保目录编码", "不能为空"))
            continue
        if code in seen:
            report.problems.append(Problem(number, "医保目录编码", f"{code} 与第 {seen[code]} 行重复"))
            continue
        seen[code] = number
        level = CLASSES.get(get("chrgitm_lv"))
        if level is None:
            report.problems.append(Problem(number, "收费项目等级", f"“{get('chrgitm_lv')}”应为 甲类、乙类 或 丙类"))
            continue
        item: dict[str, Any] = {"name": get("name"), "chrgitm_lv": level, "med_chrgitm_type": get("med_chrgitm_type").zfill(2),
                      "source": get("source") or source}
        try:
            if get("selfpay_prop"):
                item["selfpay_prop"] = _percent(get("selfpay_prop"))
        except ValueError:
            report.problems.append(Problem(number, "先行自付比例", f"“{get('selfpay_prop')}”应为百分比，如 10%"))
            continue
        if get("price_limit"):
            item["price_limit"] = get("price_limit")
        if get("special_drug") in ("是", "1", "Y", "y", "true"):
            item["special_drug"] = True
        try:
            CatalogItem.model_validate(item)
        except ValidationError as exc:
            for error in exc.errors():
                text = str(error["msg"]).removeprefix("Value error, ")
                column = FIELD_COLUMNS.get(str(error["loc"][0]) if error["loc"] else "", "")
                if not column and "selfpay_prop" in text or "先行自付" in text:
                    column = "先行自付比例"
                    text = ("只有乙类项目填写先行自付比例" if "乙类" in text else "先行自付比例应在 0–100% 之间")
                message = {"string_too_short": "不能为空或过短（依据至少3个字，可用 --source 给全部行）"}.get(
                    error["type"], text)
                report.problems.append(Problem(number, column, message))
            continue
        items[code] = item
    if report.problems:
        return report
    existing_path = folder / report.target
    data = yaml.safe_load(existing_path.read_text(encoding="utf-8")) if existing_path.is_file() else None
    data = data or {"admdvs": admdvs, "name": admdvs, "versions": []}
    versions = data.setdefault("versions", [])
    if versions and str(versions[-1].get("effective_from")) >= effective_from.isoformat():
        report.problems.append(Problem(0, "", f"生效日期须晚于现有最新版本（{versions[-1].get('effective_from')}）"))
        return report
    merged_codes: set[str] = set()
    for version in versions:
        merged_codes |= set((version.get("items") or {}))
    kept = sorted(merged_codes - set(items))
    if kept:
        report.notes.append(f"以前版本中有、本文件中没有的 {len(kept)} 个项目沿用原分类（如需停用请列为丙类）："
                            + "、".join(kept[:20]))
    versions.append({"effective_from": effective_from, "source": source or f"{Path(path).name} 导入",
                     "items": items})
    report.content = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200)
    _validated(report)
    return report


def check_policy_file(path: Path) -> PolicyReport:
    """A dated policy YAML file (an insured region's ``region:`` file or a catalog's ``admdvs:`` file)."""
    report = PolicyReport()
    try:
        content = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(content)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        report.problems.append(f"{Path(path).name}: 无法读取为 UTF-8 YAML（{type(exc).__name__}）")
        return report
    if not isinstance(data, dict) or not isinstance(data.get("versions"), list):
        report.problems.append(f"{Path(path).name}: 应为带 versions 列表的政策文件（region: 参保地政策，或 admdvs: 就医地目录）")
        return report
    if data.get("region"):
        report.target = f"insured/{data['region']}.yaml"
    elif data.get("admdvs"):
        report.target = f"catalogs/{data['admdvs']}.yaml"
    else:
        report.problems.append(f"{Path(path).name}: 缺少 region（参保地政策）或 admdvs（就医地目录）")
        return report
    report.content = content
    _validated(report)
    return report
