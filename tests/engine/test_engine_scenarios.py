"""Every settled result of every scenario file (tests/scenarios/*.yaml), recomputed by the batch engine.

Each scenario is played by the real scenario runner (services + SQLite). Then:
- per claim: each settlement is recomputed alone, with the fund already used this year that the
  scalar engine saw (from its trace) as the opening usage — every field must agree to the fen;
- as a batch: where the story has no cancellation and settles each cap group in discharge order,
  all its settlements are recomputed together from zero, so the engine's running totals are checked too.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from yidi.adapters.orm import SettlementRow
from yidi.domain.benefit import cap_key_for
from yidi.domain.money import yuan_to_fen
from yidi.policy.loader import load_policy_book
from yidi.services.context import AppContext
from yidi.services.scenario import load_scenario, parse_items, run_scenario_data

from tests.engine.reference import Claim, engine_results

SCENARIOS = sorted((Path(__file__).parents[1] / "scenarios").glob("*.yaml"))
FIELDS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
          "first_selfpay", "act_pay_dedc", "hifp_pay", "pool_prop_selfpay", "fund_pay_sumamt", "psn_part_amt")


def _settled(path: Path) -> tuple[dict, list[tuple[Claim, dict, int]]]:
    """Play the scenario; return it and, per settlement step: the claim, the scalar result (fen), the used-before."""
    data = load_scenario(path)
    with tempfile.TemporaryDirectory(prefix="yidi-engine-scenario-") as tmp:
        ctx = AppContext.from_url(f"sqlite:///{tmp}/scenario.db")
        try:
            report = run_scenario_data(data, ctx)
            steps = {str(step["id"]): step for step in data["steps"]}
            out = []
            with ctx.unit_of_work() as session:
                for outcome in report.steps:
                    step = steps[outcome.id]
                    if step["do"] not in ("settle", "manual_claim") or not outcome.ok:
                        continue
                    row = session.scalars(select(SettlementRow).where(
                        SettlementRow.setl_id == outcome.result["setl_id"])).one()
                    kind = row.temporary_type if row.coverage_context == "temporary" else row.coverage_context
                    claim = Claim(row.psn_no, row.insuplc_admdvs, row.insutype, row.mdtrtarea_admvs, row.hospital_level,
                                  row.med_type, row.dise_codg, row.begntime, row.endtime,
                                  list(parse_items(step["items"])), benefit_kind=kind)
                    fund_step = next(s for s in row.trace if s["step"] == "fund")
                    used_before = yuan_to_fen(fund_step["inputs"]["used_this_year"])
                    expected = {name: yuan_to_fen(outcome.result[name]) for name in FIELDS}
                    expected["policy_version"] = outcome.result["policy_version"]
                    out.append((claim, expected, used_before))
        finally:
            ctx.engine.dispose()
    return data, out


def _comparable(engine_row: dict) -> dict:
    return {name: engine_row[name] for name in (*FIELDS, "policy_version")} if "error" not in engine_row else engine_row


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_b12_engine_recomputes_every_scenario_settlement(path: Path):
    book = load_policy_book()
    data, settled = _settled(path)
    for claim, expected, used_before in settled:
        _, (got,) = engine_results(book, [claim], opening=[used_before])
        assert _comparable(got) == expected, f"{path.stem}: {claim}"

    # The whole story as one batch, when its order is the discharge order and nothing was given back.
    groups = defaultdict(list)
    for claim, _, _ in settled:
        groups[(claim.psn_no, claim.endtime.year, str(cap_key_for(claim.med_type, claim.dise_codg)))].append(claim.endtime)
    in_order = all(dates == sorted(dates) for dates in groups.values())
    if settled and in_order and not any(step["do"] == "cancel_settlement" for step in data["steps"]):
        _, got = engine_results(book, [claim for claim, _, _ in settled])
        assert [_comparable(g) for g in got] == [expected for _, expected, _ in settled]


def test_scenarios_exist_and_settle_something():
    """The cross-check above must not pass vacuously."""
    assert sum(len(_settled(path)[1]) for path in SCENARIOS) >= len(SCENARIOS)
