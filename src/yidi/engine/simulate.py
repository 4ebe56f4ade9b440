"""Policy simulation (`yidi simulate`): the same claims under the bundled policy and under a changed one.

Both runs use the batch engine on the same ``ClaimTable``; the benefit kind of each claim is kept (the
filings do not change), so a changed reduction or ratio re-prices every claim it touches, in the
version in force on each claim's discharge date. Totals are grouped by insured region, med_type and
hospital level; the chart is a small hand-written SVG (grouped bars of fund payments by region).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np

from yidi.domain.errors import YidiError
from yidi.domain.money import fen_to_yuan
from yidi.engine.adjudicate import Adjudication, ClaimTable, adjudicate
from yidi.engine.tables import PolicyTables

GROUP_COLUMNS = ("insuplc_admdvs", "med_type", "hospital_level")


@dataclass(frozen=True)
class TotalsRow:
    insuplc_admdvs: str
    med_type: str
    hospital_level: int
    claims: int
    baseline_fund_fen: int
    changed_fund_fen: int
    baseline_personal_fen: int
    changed_personal_fen: int

    @property
    def fund_change_fen(self) -> int:
        return self.changed_fund_fen - self.baseline_fund_fen


GROUP_VALUES = 6  # per group: claims, refused, baseline fund, changed fund, baseline personal, changed personal


class Totals:
    """Integer-fen totals per (insured region, med_type, hospital level), added chunk by chunk (exact)."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str, int], list[int]] = {}

    def add(self, region: np.ndarray | int, region_names, med_type: np.ndarray, med_names, level: np.ndarray,
            before: Adjudication, after: Adjudication) -> None:
        """One chunk of claims adjudicated twice; codes index the name tuples (every code ≥ 0). ``region``
        may be one code for the whole chunk (a partition)."""
        n = len(med_type)
        if n == 0:
            return
        low, high = int(level.min()), int(level.max())
        span = high - low + 1
        key = med_type.astype(np.int64)
        key *= span
        key += level
        key -= low
        if not np.isscalar(region):
            key += region * (len(med_names) * span)
        size = (len(region_names) if not np.isscalar(region) else 1) * len(med_names) * span
        # float64 sums are exact while every partial sum stays below 2**53 fen (~9×10^13 yuan per chunk)
        amounts = (before.fund_pay_sumamt, after.fund_pay_sumamt, before.medfee_sumamt, after.medfee_sumamt)
        if n * max(max(abs(int(a.min())), abs(int(a.max()))) for a in amounts) >= 2**53:
            raise OverflowError("chunk too large for exact float64 sums; use smaller partitions")
        sums = [np.bincount(key, minlength=size)]
        refused = before.error.any()
        sums.append(np.bincount(key, weights=before.error != 0, minlength=size) if refused else np.zeros(size))
        for values in amounts[:3]:
            sums.append(np.bincount(key, weights=values, minlength=size))
        # medfee is the input column itself (a read-only view) unless the changed policy refuses claims
        sums.append(sums[-1] if not (refused or after.error.any()) else np.bincount(key, weights=amounts[3], minlength=size))
        sums = np.rint(np.stack(sums)).astype(np.int64)
        for k in np.flatnonzero(sums[0]):
            k = int(k)
            name = (str(region_names[region if np.isscalar(region) else k // (len(med_names) * span)]),
                    str(med_names[k // span % len(med_names)]), low + k % span)
            count, refused_count, fund_before, fund_after, medfee_before, medfee_after = (int(x) for x in sums[:, k])
            into = self.groups.setdefault(name, [0] * GROUP_VALUES)
            for i, value in enumerate((count, refused_count, fund_before, fund_after, medfee_before - fund_before,
                                       medfee_after - fund_after)):
                into[i] += value

    def merge(self, other: "Totals") -> None:
        for name, values in other.groups.items():
            into = self.groups.setdefault(name, [0] * GROUP_VALUES)
            for i in range(GROUP_VALUES):
                into[i] += values[i]

    def rows(self) -> list[TotalsRow]:
        return [TotalsRow(region, med_type, level, v[0], v[2], v[3], v[4], v[5])
                for (region, med_type, level), v in sorted(self.groups.items())]

    @property
    def claims(self) -> int:
        return sum(v[0] for v in self.groups.values())

    @property
    def refused(self) -> int:
        return sum(v[1] for v in self.groups.values())

    def fund(self) -> tuple[int, int]:
        return sum(v[2] for v in self.groups.values()), sum(v[3] for v in self.groups.values())


def check_vocabularies(baseline: PolicyTables, changed: PolicyTables) -> None:
    """Claims are encoded once, with the baseline's codes: the changed policy must use the same ones."""
    for name in ("regions", "insutypes", "diseases"):
        if getattr(baseline, name) != getattr(changed, name):
            raise YidiError("POLICY_INVALID", {"file": "--policy-change", "path": name, "reason":
                            f"政策变更不能增减{name}（基线 {getattr(baseline, name)}，变更后 {getattr(changed, name)}）"})


def simulate(claims: ClaimTable, labels: dict[str, np.ndarray], baseline: PolicyTables,
             changed: PolicyTables) -> Totals:
    """One table of claims (a single claims file) under both policies."""
    check_vocabularies(baseline, changed)
    before = adjudicate(claims, baseline)
    after = adjudicate(claims, changed, same_claims=before)
    totals = Totals()
    region_names, region = np.unique(labels["insuplc_admdvs"], return_inverse=True)
    med_names, med_type = np.unique(labels["med_type"], return_inverse=True)
    totals.add(region.reshape(-1), region_names, med_type.reshape(-1), med_names, labels["hospital_level"],
               before, after)
    return totals


def write_csv(rows: list[TotalsRow], path: Path) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["insuplc_admdvs", "med_type", "hospital_level", "claims", "baseline_fund_yuan",
                         "changed_fund_yuan", "fund_change_yuan", "baseline_personal_yuan", "changed_personal_yuan"])
        for row in rows:
            writer.writerow([row.insuplc_admdvs, row.med_type, row.hospital_level, row.claims,
                             fen_to_yuan(row.baseline_fund_fen), fen_to_yuan(row.changed_fund_fen),
                             fen_to_yuan(row.fund_change_fen), fen_to_yuan(row.baseline_personal_fen),
                             fen_to_yuan(row.changed_personal_fen)])


def by_region(rows: list[TotalsRow]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for row in rows:
        before, after = out.get(row.insuplc_admdvs, (0, 0))
        out[row.insuplc_admdvs] = (before + row.baseline_fund_fen, after + row.changed_fund_fen)
    return out


def svg_chart(rows: list[TotalsRow], names: dict[str, str], title: str) -> str:
    """Grouped bars: fund payments per insured region, baseline vs changed (万元)."""
    totals = by_region(rows)
    width, height, left, bottom, top = 640, 360, 70, 50, 40
    plot_h = height - bottom - top
    peak = max([max(pair) for pair in totals.values()] + [1])
    slot = (width - left - 20) / max(1, len(totals))
    bar = slot * 0.35
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="12"><title>{escape(title)}</title>',
             f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#333"/>']
    for tick in range(5):
        value = peak * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value / 1_000_000:,.0f}</text>')
    parts.append(f'<text x="12" y="{top - 10}">万元</text>')
    for i, (region, (before, after)) in enumerate(sorted(totals.items())):
        x = left + slot * i + slot * 0.15
        for j, (value, colour, label) in enumerate(((before, "#8da0cb", "基线"), (after, "#fc8d62", "变更后"))):
            h = plot_h * value / peak
            parts.append(f'<rect x="{x + j * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{escape(region)} {label} {fen_to_yuan(value)} 元</title></rect>')
        change = (after - before) / before * 100 if before else 0.0
        parts.append(f'<text x="{x + bar:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                     f'{escape(names.get(region, region))}</text>')
        parts.append(f'<text x="{x + bar:.1f}" y="{top + plot_h + 32}" text-anchor="middle">{change:+.2f}%</text>')
    parts.append(f'<rect x="{width - 170}" y="30" width="12" height="12" fill="#8da0cb"/>'
                 f'<text x="{width - 152}" y="40">基线 baseline</text>'
                 f'<rect x="{width - 170}" y="48" width="12" height="12" fill="#fc8d62"/>'
                 f'<text x="{width - 152}" y="58">变更后 changed</text></svg>')
    return "\n".join(parts) + "\n"
