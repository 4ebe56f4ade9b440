"""Load, merge and validate the dated policy files; answer "what is in force on this date".

A region file lists versions; each later version names only what changed and is deep-merged over
the one before (OpenFisca-style dated parameters, kept per claim by discharge date). Problems are
collected as values (file, path, reason) so that `yidi policy check` can show all of them at once;
``load_policy_book`` refuses to return a book that has any. The types it builds (``PolicyBook``,
``InsuredPolicy``, ``Catalog`` and the validated figures) are the domain's, in ``yidi.domain.policy``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from yidi.domain.errors import YidiError
from yidi.domain.regions import province_of
from yidi.domain.policy import (  # noqa: F401 - InsuredPolicy, Catalog, PolicyBook re-exported for callers
    Catalog, CatalogVersion, DatedValues, InsuredPolicy, InsuredPolicyVersion, NationalCaps, PolicyBook)

DATA_DIR = Path(str(resources.files("yidi.policy") / "data"))


@dataclass(frozen=True)
class PolicyProblem:
    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.reason}"


def deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and "value" not in value:
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _pydantic_problems(file: str, prefix: str, exc: ValidationError) -> list[PolicyProblem]:
    return [
        PolicyProblem(file, ".".join([prefix, *[str(p) for p in err["loc"]]]).strip("."), err["msg"])
        for err in exc.errors()
    ]


def _read_yaml(path: Path, problems: list[PolicyProblem]) -> dict | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(PolicyProblem(path.name, "", f"不是有效的 YAML: {exc}"))
        return None
    if not isinstance(data, dict):
        problems.append(PolicyProblem(path.name, "", "文件顶层应为映射 (mapping)"))
        return None
    return data


def check_insured_version(
    file: str, prefix: str, version: InsuredPolicyVersion, national: NationalCaps, province_caps: dict[str, int] | None
) -> list[PolicyProblem]:
    """Cross-field rules pydantic cannot express: national caps (B5, F5, F6), ratios within 0–100%."""
    problems: list[PolicyProblem] = []
    caps = dict(national.max_reduction_pp.value)
    for kind, cap in (province_caps or {}).items():
        caps[kind] = min(caps.get(kind, cap), cap)
    reductions = version.remote.reductions
    for kind, cap in caps.items():
        value = getattr(reductions, kind).value
        if value > cap:
            problems.append(PolicyProblem(
                file, f"{prefix}.remote.reductions.{kind}",
                f"降低 {value} 个百分点超过国家/省规定上限 {cap} 个百分点 (B5)"))
    # 001 二(五): a long-term filer returning home gets at least the referral benefit level.
    for med_class, value in reductions.long_term_returning.value.items():
        if value > reductions.referral.value:
            problems.append(PolicyProblem(
                file, f"{prefix}.remote.reductions.long_term_returning.{med_class}",
                f"回参保地降低 {value} 个百分点，低于转诊待遇（降低 {reductions.referral.value} 个百分点）；"
                "国家规定原则上不低于参保地转诊转院待遇水平 (B3, 001 二(五))"))
    every_reduction = [reductions.referral.value, reductions.emergency.value, reductions.other_temporary.value,
                       reductions.long_term_at_filed_place.value, reductions.temporary_returning.value,
                       *reductions.long_term_returning.value.values()]
    if any(value < 0 for value in every_reduction):
        problems.append(PolicyProblem(file, f"{prefix}.remote.reductions", "降低的百分点不能为负数"))
    if version.filing.commitment_lock_months.value > national.max_commitment_lock_months.value:
        problems.append(PolicyProblem(file, f"{prefix}.filing.commitment_lock_months",
                                      f"超过国家规定的 {national.max_commitment_lock_months.value} 个月 (F6)"))
    if version.filing.commitment_lock_months.value < 0:
        problems.append(PolicyProblem(file, f"{prefix}.filing.commitment_lock_months", "月数不能为负数 (F6)"))
    extension = version.filing.temporary_extension_months.value
    if extension is not None and not (version.filing.temporary_validity_months.value < extension[0] <= extension[1]):
        problems.append(PolicyProblem(file, f"{prefix}.filing.temporary_extension_months",
                                      "延长期限应为 [最短, 最长] 月数，且长于标准有效期 (F5)"))
    if version.filing.temporary_validity_months.value < national.min_temporary_validity_months.value:
        problems.append(PolicyProblem(file, f"{prefix}.filing.temporary_validity_months",
                                      f"少于国家规定的 {national.min_temporary_validity_months.value} 个月 (F5)"))
    ratios: list[tuple[str, int]] = []
    for insutype, inpatient in version.benefits.inpatient.items():
        ratios += [(f"benefits.inpatient.{insutype}.ratio.{lv}", bp) for lv, bp in inpatient.ratio.value.items()]
        for lv, fen in inpatient.deductible.value.items():
            if fen < 0:
                problems.append(PolicyProblem(file, f"{prefix}.benefits.inpatient.{insutype}.deductible.{lv}", "起付线不能为负数"))
        if inpatient.annual_cap.value <= 0:
            problems.append(PolicyProblem(file, f"{prefix}.benefits.inpatient.{insutype}.annual_cap", "年度最高支付限额必须为正数"))
    ratios += [(f"benefits.outpatient.{t}.ratio", p.ratio.value) for t, p in version.benefits.outpatient.items()]
    ratios += [(f"benefits.chronic.{d}.ratio", p.ratio.value) for d, p in version.benefits.chronic.items()]
    if version.special_drugs is not None:  # B11: 特药 ratios by insutype
        ratios += [(f"special_drugs.ratio.{t}", bp) for t, bp in version.special_drugs.ratio.value.items()]
    for path, bp in ratios:
        if not 0 <= bp <= 10_000:
            problems.append(PolicyProblem(file, f"{prefix}.{path}", "支付比例必须在 0%–100% 之间"))
    share = version.remote.first_selfpay.share.value
    if not 0 <= share <= 10_000:
        problems.append(PolicyProblem(file, f"{prefix}.remote.first_selfpay.share", "首先自付比例必须在 0%–100% 之间"))
    return problems


NATIONAL_ISSUER = "000000"
_SEED_CLAUSE = re.compile(r"[^:;：；]*\bseeds?\b[^:;：；]*")
_SEED_ID = re.compile(r"(?<![\d.])(\d{3})(?![\d.%])")


def cited_documents(source: str) -> list[str]:
    """The seed documents a ``source`` cites: every three-digit id in a clause that says ``seed``
    ("seed 000 一(二), 002 二(一): …" cites 000 and 002), up to the clause's colon or semicolon."""
    return [found for clause in _SEED_CLAUSE.findall(source) for found in _SEED_ID.findall(clause)]


def _sources(node: Any, path: str) -> list[tuple[str, str]]:
    """Every (path, source text) in a parsed policy file."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            if key in ("source", "document") and isinstance(value, str):
                found.append((child, value))
            else:
                found += _sources(value, child)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _sources(value, f"{path}[{index}]")
    return found


def check_own_documents(file: str, region: str, data: dict, issuers: dict[str, str]) -> list[PolicyProblem]:
    """Every source cites only the national document, the region's province's or the region's own."""
    allowed = {NATIONAL_ISSUER, province_of(region), region}
    problems = []
    for path, text in _sources(data, ""):
        for seed in cited_documents(text):
            issuer = issuers.get(seed)
            if issuer is None:
                problems.append(PolicyProblem(file, path, f"引用的 seed {seed} 不在文件登记表（national.yaml documents）中"))
            elif issuer not in allowed:
                problems.append(PolicyProblem(
                    file, path, f"引用了 seed {seed}（{issuer} 的文件）；参数只能引用本地区、本省或国家的文件"))
    return problems


def _load_dated_versions(path: Path, data: dict, problems: list[PolicyProblem]) -> list[tuple[str, dict]]:
    versions = data.get("versions")
    if not isinstance(versions, list) or not versions:
        problems.append(PolicyProblem(path.name, "versions", "至少需要一个版本 (versions)"))
        return []
    merged: dict = {}
    out = []
    previous: date | None = None
    for index, raw in enumerate(versions):
        if not isinstance(raw, dict):
            problems.append(PolicyProblem(path.name, f"versions[{index}]", "版本应为映射"))
            return []
        merged = deep_merge(merged, raw)
        effective = raw.get("effective_from")
        if not isinstance(effective, date):
            problems.append(PolicyProblem(path.name, f"versions[{index}].effective_from", "需要生效日期 YYYY-MM-DD"))
            return []
        if previous and effective <= previous:
            problems.append(PolicyProblem(path.name, f"versions[{index}].effective_from", "版本生效日期必须递增"))
        previous = effective
        out.append((f"versions[{index}]", dict(merged)))
    return out


def collect_policy(data_dir: Path = DATA_DIR, extra_files: list[Path] | None = None) -> tuple[PolicyBook | None, list[PolicyProblem]]:
    """Read every policy file; return the book and every problem found (errors as values)."""
    problems: list[PolicyProblem] = []
    national_raw = _read_yaml(data_dir / "national.yaml", problems) or {}
    try:
        national = NationalCaps.model_validate(national_raw.get("caps", {}))
    except ValidationError as exc:
        problems += _pydantic_problems("national.yaml", "caps", exc)
        return None, problems
    province_caps = {
        code: dict(entry["value"]) for code, entry in (national_raw.get("province_max_reduction_pp") or {}).items()
    }
    book = PolicyBook(national=national)
    issuers = {str(seed): str(entry.get("issuer", "")) for seed, entry in (national_raw.get("documents") or {}).items()}

    insured_files = sorted((data_dir / "insured").glob("*.yaml")) + [p for p in (extra_files or []) if "catalog" not in p.name]
    for path in insured_files:
        data = _read_yaml(path, problems)
        if data is None:
            continue
        region = str(data.get("region", ""))
        name = str(data.get("name", region))
        problems += check_own_documents(path.name, region, data, issuers)
        book.region_names[region] = name
        dated = DatedValues()
        for prefix, merged in _load_dated_versions(path, data, problems):
            try:
                version = InsuredPolicyVersion.model_validate(merged)
            except ValidationError as exc:
                problems += _pydantic_problems(path.name, prefix, exc)
                continue
            problems += check_insured_version(path.name, prefix, version, national, province_caps.get(region[:2] + "0000"))
            dated.add(version.effective_from,
                      InsuredPolicy(region, name, f"{region}@{version.effective_from.isoformat()}", version))
        book.insured[region] = dated

    for path in sorted((data_dir / "catalogs").glob("*.yaml")):
        data = _read_yaml(path, problems)
        if data is None:
            continue
        admdvs = str(data.get("admdvs", ""))
        name = str(data.get("name", admdvs))
        book.region_names.setdefault(admdvs, name)
        dated = DatedValues()
        for prefix, merged in _load_dated_versions(path, data, problems):
            try:
                version = CatalogVersion.model_validate(merged)
            except ValidationError as exc:
                problems += _pydantic_problems(path.name, prefix, exc)
                continue
            dated.add(version.effective_from,
                      Catalog(admdvs, name, f"catalog-{admdvs}@{version.effective_from.isoformat()}", version.items))
        book.catalogs[admdvs] = dated
    return (None if problems else book), problems


_DEFAULT_BOOK: PolicyBook | None = None


def load_policy_book(data_dir: Path | None = None) -> PolicyBook:
    """The validated policy book; raises POLICY_INVALID naming the first problem (all are listed in the message)."""
    global _DEFAULT_BOOK
    if data_dir is None:
        from yidi.config import get_settings

        configured = get_settings().policy_dir  # YIDI_POLICY_DIR: the operator's folder replaces the packaged one
        data_dir = Path(configured) if configured else None
    if data_dir is None and _DEFAULT_BOOK is not None:
        return _DEFAULT_BOOK
    book, problems = collect_policy(data_dir or DATA_DIR)
    if problems or book is None:
        first = problems[0]
        raise YidiError("POLICY_INVALID", {"file": first.file, "path": first.path,
                                           "reason": "; ".join(str(p) for p in problems)})
    if data_dir is None:
        _DEFAULT_BOOK = book
    return book
