"""The project's structure, checked: it stands alone, and each rule and code list has one home.

- The docs, the README and the code name no file outside the repository: every ``*.md`` they mention is one of
  the repository's own files, and none points at a folder beside the checkout (``../shared`` …).
- The benefit kinds, their reductions and 首先自付 are the domain's, and the batch engine's tables are filled
  from them (one rule, both engines).
- A filing channel reads the same in the /api answer and on the pages (domain/codes.py).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from yidi.domain import codes, kinds
from yidi.domain.coverage import MedClass

ROOT = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".html", ".txt", ".toml", ".ini", ".cfg", ".css", ".js", ".json", ""}
OUTSIDE = re.compile(r"\.\./shared|/work/shared|shared/spec|shared/seeds|\.\./seeds|\.\./spec")
MARKDOWN_NAME = re.compile(r"(?<![\w./-])([\w./-]*[\w-]\.md)(?![\w])")


def _tracked_text_files() -> list[Path]:
    """docs/, README.md and src/ as git tracks them (an unpacked copy without git: every file there)."""
    try:
        listed = subprocess.run(["git", "ls-files", "docs", "README.md", "src"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.split()
        paths = [ROOT / name for name in listed]
    except (OSError, subprocess.CalledProcessError):
        paths = [ROOT / "README.md", *(p for top in ("docs", "src") for p in (ROOT / top).rglob("*") if p.is_file())]
    return [p for p in paths if p.suffix in TEXT_SUFFIXES and p.exists() and "egg-info" not in str(p)]


def test_docs_readme_and_code_refer_to_no_file_outside_the_repository() -> None:
    files = _tracked_text_files()
    assert any(p.name == "README.md" for p in files) and any(p.suffix == ".py" for p in files)
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in files
             for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             if OUTSIDE.search(line)]
    assert not found, "files outside the repository named in:\n" + "\n".join(found)


def test_every_markdown_file_the_docs_and_code_name_is_in_the_repository() -> None:
    """A bare ``rules.md`` or ``baseline-policy.md`` must be docs/'s own copy, not a file the reader lacks."""
    missing = []
    for path in _tracked_text_files():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for name in MARKDOWN_NAME.findall(line):
                candidates = (ROOT / name, ROOT / "docs" / name, path.parent / name)
                if not any(candidate.is_file() for candidate in candidates):
                    missing.append(f"{path.relative_to(ROOT)}:{n}: {name}")
    assert not missing, "markdown files named but not in the repository:\n" + "\n".join(missing)


def test_the_checks_above_can_fail() -> None:
    assert OUTSIDE.search("see ../shared/spec/rules.md") and OUTSIDE.search("/work/shared/seeds/000.txt")
    assert MARKDOWN_NAME.findall("as baseline-policy.md says, and docs/rules.md") == [
        "baseline-policy.md", "docs/rules.md"]
    assert MARKDOWN_NAME.findall("row.mdtrt_id") == []


# ------------------------------------------------------------------ one rule, both engines ----
def test_b5_engine_tables_hold_the_domain_reductions_and_first_selfpay(policy) -> None:
    from yidi.engine.tables import PolicyTables

    tables = PolicyTables.from_book(policy)
    assert tables.versions
    for v, version in enumerate(tables.versions):
        for k, kind in enumerate(kinds.BENEFIT_KINDS):
            for c, med_class in enumerate(kinds.MED_CLASSES):
                assert tables.reduction_pp[v, k, c] == kinds.reduction_pp(version, kind, med_class)
            share = version.params.remote.first_selfpay.share.value
            assert tables.first_selfpay_bp[v, k] == (share if kinds.first_selfpay_applies(version, kind) else 0)


def test_b5_the_engine_names_the_domain_kinds_not_a_copy() -> None:
    from yidi.engine import adjudicate, tables

    assert tables.BENEFIT_KINDS is kinds.BENEFIT_KINDS and adjudicate.BENEFIT_KINDS is kinds.BENEFIT_KINDS
    assert tables.reduction_pp is kinds.reduction_pp
    assert tables.first_selfpay_applies is kinds.first_selfpay_applies
    assert tables.MED_TYPES is codes.MED_TYPES


def test_b3_no_reduction_for_chronic_whatever_the_kind(policy) -> None:
    from datetime import date

    for region in ("410800", "420100", "371400"):
        version = policy.insured_policy(region, date(2023, 6, 1))
        assert all(kinds.reduction_pp(version, kind, MedClass.CHRONIC) == 0 for kind in kinds.BENEFIT_KINDS)
    jiaozuo = policy.insured_policy("410800", date(2023, 6, 1))
    assert kinds.reduction_pp(jiaozuo, "other_temporary", MedClass.INPATIENT) == 20
    assert kinds.reduction_pp(jiaozuo, "long_term_returning", MedClass.INPATIENT) == 10


# ------------------------------------------------------------------------ one spelling per code ----
@pytest.mark.parametrize("channel", list(codes.Channel))
def test_f4_a_channel_reads_the_same_in_the_api_and_on_the_pages(channel: codes.Channel) -> None:
    from yidi.api import filings as api_filings
    from yidi.web.core import templates

    page_name = templates.env.filters["channel_name"](channel.value)
    assert page_name == api_filings.CHANNEL_NAMES[channel] == codes.CHANNEL_NAMES[channel]


def test_f4_every_channel_has_a_name_and_med_types_a_class_and_name() -> None:
    assert set(codes.CHANNEL_NAMES) == set(codes.Channel)
    assert set(codes.MED_TYPE_NAMES) == set(codes.MED_CLASS_OF) == set(codes.MED_TYPES)
    assert codes.parse_channel(" WeChat ") is codes.Channel.MINI_PROGRAM
    with pytest.raises(ValueError):
        codes.parse_channel("carrier pigeon")
