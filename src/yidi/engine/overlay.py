"""A policy-change overlay: extra dated versions for an insured region, on top of the bundled policy.

The overlay file has the format of ``policy/data/insured/<region>.yaml`` (``region:`` and ``versions:``);
its versions list only what changes and are appended after the region's own versions, so the loader
deep-merges them exactly as it merges any later version, and validates the result against the national
and provincial caps (B5, F5, F6). Problems come back as the loader's POLICY_INVALID error.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from yidi.domain.errors import YidiError
from yidi.policy.loader import DATA_DIR, PolicyBook, collect_policy


def book_with_overlay(overlay: Path, data_dir: Path = DATA_DIR) -> PolicyBook:
    try:
        change = yaml.safe_load(Path(overlay).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise YidiError("POLICY_INVALID", {"file": str(overlay), "path": "", "reason": f"无法读取: {exc}"}) from exc
    if not isinstance(change, dict) or not isinstance(change.get("versions"), list) or not change.get("region"):
        raise YidiError("POLICY_INVALID", {"file": str(overlay), "path": "",
                                           "reason": "需要 region: 与 versions: 列表（与 policy/data/insured 同格式）"})
    region = str(change["region"])
    base_path = data_dir / "insured" / f"{region}.yaml"
    if not base_path.exists():
        raise YidiError("NO_POLICY", {"region": region, "year": "任何", "date": "政策变更文件", "first": "（未载入任何版本）"})
    base = yaml.safe_load(base_path.read_text(encoding="utf-8"))
    merged = dict(base)
    merged["versions"] = list(base["versions"]) + list(change["versions"])
    with tempfile.TemporaryDirectory(prefix="yidi-overlay-") as tmp:
        path = Path(tmp) / f"{region}.yaml"
        path.write_text(yaml.safe_dump(merged, allow_unicode=True, sort_keys=False), encoding="utf-8")
        book, problems = collect_policy(data_dir, extra_files=[path])
    if problems or book is None:
        first = problems[0]
        raise YidiError("POLICY_INVALID", {"file": str(overlay), "path": first.path,
                                           "reason": "; ".join(str(p) for p in problems)})
    return book
