"""The settlement rules as an OpenFisca TaxBenefitSystem, for bench/engine.py (runs in .venv-bench).

One entity, the claim. OpenFisca vectorizes formulas over entities but has no notion of a running
total across the members of an entity in a given order, so the annual cap is modelled per claim:
``cap_used_before`` is an input variable (the year-to-date fund use, supplied from the batch engine's
running totals and not timed here), and the formula applies ``min(by_ratio, cap − cap_used_before)``.
The policy figures are the batch engine's parameter grid (same integers), gathered by a row index the
formulas compute from the claim's codes; the dated version in force is an input (``policy_version``).
Money variables use OpenFisca's default ``float`` (float32); rounding is half-up (floor(x + 0.5)).

Usage (inside .venv-bench): python bench/openfisca_rules.py IN.npz OUT.npz
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from openfisca_core.entities import build_entity
from openfisca_core.periods import DateUnit
from openfisca_core.simulations import SimulationBuilder
from openfisca_core.taxbenefitsystems import TaxBenefitSystem
from openfisca_core.variables import Variable

Claim = build_entity(key="claim", plural="claims", label="异地就医结算单", is_person=True)
GRID: dict[str, np.ndarray] = {}  # filled from IN.npz: the engine's ParameterGrid arrays


def variable(name: str, value_type: type, formula=None) -> type:
    """An OpenFisca Variable class (OpenFisca reads attributes from the class body, not from bases)."""
    body = {"entity": Claim, "definition_period": DateUnit.YEAR, "value_type": value_type, "label": name}
    if formula is not None:
        body["formula"] = formula
    return type(name, (Variable,), body)


INT_INPUTS = ("policy_version", "insutype", "med_type", "hospital_level", "disease", "benefit_kind")
FLOAT_INPUTS = ("medfee_sumamt", "inscp_scp_amt", "cap_used_before")


def _half_up(x):
    return np.floor(x + 0.5)


def param_row(claim, period):
    nt, nm, nl, nd = GRID["shape"][1:]
    level = claim("hospital_level", period)
    level = np.where((level >= 1) & (level <= 3), level, 0)
    row = (((claim("policy_version", period) + 1) * nt + claim("insutype", period) + 1) * nm
           + claim("med_type", period) + 1) * nl + level
    return row * nd + claim("disease", period) + 1


def kind_row(claim, period):
    _, nk, nm = GRID["kinds_shape"]
    return ((claim("policy_version", period) + 1) * nk + claim("benefit_kind", period)) * nm + claim("med_type", period) + 1


def deductible(claim, period):
    return GRID["deductible"][claim("param_row", period)]


def annual_cap(claim, period):
    return GRID["cap"][claim("param_row", period)]


def ratio_bp(claim, period):
    base = GRID["base_ratio"][claim("param_row", period)]
    return np.maximum(0, base - GRID["reduction_pp"][claim("kind_row", period)] * 100)


def first_selfpay(claim, period):  # B6, on the in-scope amount before the deductible
    share = GRID["first_selfpay_bp"][claim("kind_row", period)]
    return _half_up(claim("inscp_scp_amt", period) * share / 10000)


def eligible(claim, period):
    return claim("inscp_scp_amt", period) - claim("first_selfpay", period)


def act_pay_dedc(claim, period):
    return np.minimum(claim("eligible", period), claim("deductible", period))


def hifp_pay(claim, period):  # cap per claim: the year-to-date use is an input
    base = claim("eligible", period) - claim("act_pay_dedc", period)
    by_ratio = _half_up(base * claim("ratio_bp", period) / 10000)
    cap_left = np.maximum(0, claim("annual_cap", period) - claim("cap_used_before", period))
    return np.minimum(by_ratio, cap_left)


def psn_part_amt(claim, period):
    return claim("medfee_sumamt", period) - claim("hifp_pay", period)


FORMULAS = [("param_row", int, param_row), ("kind_row", int, kind_row), ("deductible", float, deductible),
            ("annual_cap", float, annual_cap), ("ratio_bp", float, ratio_bp), ("first_selfpay", float, first_selfpay),
            ("eligible", float, eligible), ("act_pay_dedc", float, act_pay_dedc), ("hifp_pay", float, hifp_pay),
            ("psn_part_amt", float, psn_part_amt)]


def build_system() -> TaxBenefitSystem:
    system = TaxBenefitSystem([Claim])
    for name in INT_INPUTS:
        system.add_variable(variable(name, int))
    for name in FLOAT_INPUTS:
        system.add_variable(variable(name, float))
    for name, value_type, formula in FORMULAS:
        system.add_variable(variable(name, value_type, formula))
    return system


def run(data: dict[str, np.ndarray], period: str = "2024") -> tuple[dict[str, np.ndarray], float]:
    for name in ("shape", "kinds_shape", "deductible", "cap", "base_ratio", "reduction_pp", "first_selfpay_bp"):
        GRID[name] = data["grid_" + name]
    system = build_system()
    n = len(data["medfee_sumamt"])
    started = time.perf_counter()
    simulation = SimulationBuilder().build_default_simulation(system, count=n)
    for name in (*INT_INPUTS, *FLOAT_INPUTS):
        simulation.set_input(name, period, data[name])
    out = {name: simulation.calculate(name, period) for name in ("hifp_pay", "first_selfpay", "act_pay_dedc",
                                                                  "psn_part_amt")}
    return out, time.perf_counter() - started


if __name__ == "__main__":
    source, target = sys.argv[1], sys.argv[2]
    inputs = dict(np.load(source))
    run({k: v[:1000] if v.ndim and k[:5] != "grid_" else v for k, v in inputs.items()})  # warm-up
    results, seconds = run(inputs)
    np.savez(target, **results)
    print(json.dumps({"seconds": seconds, "dtype": str(results["hifp_pay"].dtype)}))
