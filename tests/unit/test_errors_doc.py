"""S6: docs/errors.md is generated from the error catalog and must stay identical to it."""

from __future__ import annotations

from pathlib import Path

from yidi.domain.errors import CATALOG, errors_markdown

ERRORS_MD = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def test_s6_errors_md_equals_the_catalog():
    assert ERRORS_MD.read_text(encoding="utf-8") == errors_markdown(), (
        "docs/errors.md is out of date: run `yidi docs errors --write`")


def test_s6_every_code_has_a_chinese_cause_and_a_next_step():
    for spec in CATALOG.values():
        assert any("\u4e00" <= ch <= "\u9fff" for ch in spec.message), spec.code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in spec.hint), spec.code
        assert 400 <= spec.http_status < 600
