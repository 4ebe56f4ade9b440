"""The settlement rules as an OpenFisca TaxBenefitSystem, for bench/engine.py (runs in .venv-bench).

One entity, the claim, with the same inputs as the batch engine's ClaimTable (person, insured region,
discharge day, insutype, hospital level, med_type, disease, benefit kind, scope amounts). The policy
figures are the engine's parameter tables (same integers): the dated version in force is found by a
formula (``np.searchsorted`` on the versions' start days per region), deductible, ratio, 首先自付 and
cap by gathering from the engine's ``ParameterGrid`` with a row index the formulas compute.

OpenFisca vectorizes formulas over the members of an entity but has no running total across members in
a given order, so the year-to-date cap use (B9, B10) is where the variants differ:

* ``given``: ``policy_version`` and ``cap_used_before`` are set as inputs (taken from the batch engine's
  results, untimed) — OpenFisca uses an input in place of a variable's formula. OpenFisca then does
  strictly less than the engine: no version lookup, no ordering, no running totals.
* ``argsort``: OpenFisca computes both, the way an OpenFisca user would write the cap formula in numpy:
  one packed int64 key (person, cap key, day), ``np.argsort(kind="stable")``, a segmented cumsum — the
  batch engine's own previous algorithm.
* ``engine-order``: the same, but ordering with the batch engine's current code (``yidi/engine/order.py``,
  loaded from the source file; pure numpy): what is left of the gap is OpenFisca itself (variables,
  caching, float money), not the algorithm.

Groups whose cap changes within a year (the engine's sequential fallback) do not occur in the generated
data (the engine reports ``sequential_groups`` 0); the OpenFisca formula does not handle them.
Money variables use OpenFisca's default ``float`` (float32); rounding is half-up (floor(x + 0.5)); the
running totals are summed in float64 inside the formula (a float32 cumsum over a million claims would
lose whole yuan), then stored as float32 like every money variable.

Usage (inside .venv-bench): python bench/openfisca_rules.py IN.npz OUT.npz VARIANT REPEAT
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one thread, like the engine (before numpy/numexpr load)

import numpy as np  # noqa: E402
from openfisca_core.entities import build_entity  # noqa: E402
from openfisca_core.periods import DateUnit  # noqa: E402
from openfisca_core.simulations import SimulationBuilder  # noqa: E402
from openfisca_core.taxbenefitsystems import TaxBenefitSystem  # noqa: E402
from openfisca_core.variables import Variable  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "yidi_engine_order", Path(__file__).resolve().parents[1] / "src" / "yidi" / "engine" / "order.py")
engine_order = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(engine_order)

Claim = build_entity(key="claim", plural="claims", label="异地就医结算单", is_person=True)
GRID: dict[str, np.ndarray] = {}  # filled from IN.npz: the engine's ParameterGrid and version tables
ORDERING = {"how": "argsort"}  # which ordering the cap_used_before formula uses


def variable(name: str, value_type: type, formula=None) -> type:
    """An OpenFisca Variable class (OpenFisca reads attributes from the class body, not from bases)."""
    body = {"entity": Claim, "definition_period": DateUnit.YEAR, "value_type": value_type, "label": name}
    if formula is not None:
        body["formula"] = formula
    return type(name, (Variable,), body)


INT_INPUTS = ("person", "region", "discharge_day", "insutype", "med_type", "hospital_level", "disease",
              "benefit_kind")
FLOAT_INPUTS = ("medfee_sumamt", "inscp_scp_amt")


def _half_up(x):
    return np.floor(x + 0.5)


def policy_version(claim, period):  # the version in force on the discharge date, per insured region
    region, day = claim("region", period).astype(np.int64), claim("discharge_day", period)
    position = np.searchsorted(GRID["version_key"], region * 2**32 + day, side="right") - 1
    found = (position >= 0) & (GRID["version_region"][np.maximum(position, 0)] == region)
    return np.where(found, GRID["version_index"][np.maximum(position, 0)], -1)


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


def cap_class(claim, period):
    return GRID["cap_class"][claim("param_row", period)]


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


def by_ratio(claim, period):  # B8 before the cap
    return _half_up((claim("eligible", period) - claim("act_pay_dedc", period)) * claim("ratio_bp", period) / 10000)


def cap_used_before(claim, period):  # B9/B10: year-to-date use per person, cap key and year, discharge order
    person, day = claim("person", period).astype(np.int64), claim("discharge_day", period).astype(np.int64)
    key = claim("cap_class", period).astype(np.int64)  # OpenFisca's int is int32: widen before packing
    n = len(person)
    if ORDERING["how"] == "engine-order":
        order, group, _ = engine_order.discharge_order(person, day, key)
        order = np.arange(n) if order is None else order
    else:
        order = np.argsort((person << 32) | (key << 22) | (day + 2**21), kind="stable")
        year = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
        group = ((person << 32) | (key << 22) | year)[order]
    starts = np.empty(n, bool)
    starts[:1] = True
    starts[1:] = group[1:] != group[:-1]
    r = claim("by_ratio", period).astype(np.float64)[order]
    running = np.cumsum(r)
    within = running - np.maximum.accumulate(np.where(starts, running - r, 0))
    used_after = np.minimum(claim("annual_cap", period)[order], within)
    before_sorted = np.where(starts, 0, np.roll(used_after, 1))
    before = np.empty(n)
    before[order] = before_sorted
    return before


def hifp_pay(claim, period):
    cap_left = np.maximum(0, claim("annual_cap", period) - claim("cap_used_before", period))
    return np.minimum(claim("by_ratio", period), cap_left)


def psn_part_amt(claim, period):
    return claim("medfee_sumamt", period) - claim("hifp_pay", period)


FORMULAS = [("policy_version", int, policy_version), ("param_row", int, param_row), ("kind_row", int, kind_row),
            ("deductible", float, deductible), ("annual_cap", float, annual_cap), ("cap_class", int, cap_class),
            ("ratio_bp", float, ratio_bp), ("first_selfpay", float, first_selfpay), ("eligible", float, eligible),
            ("act_pay_dedc", float, act_pay_dedc), ("by_ratio", float, by_ratio),
            ("cap_used_before", float, cap_used_before), ("hifp_pay", float, hifp_pay),
            ("psn_part_amt", float, psn_part_amt)]
OUTPUTS = ("hifp_pay", "first_selfpay", "act_pay_dedc", "psn_part_amt", "cap_used_before")


def build_system() -> TaxBenefitSystem:
    system = TaxBenefitSystem([Claim])
    for name in INT_INPUTS:
        system.add_variable(variable(name, int))
    for name in FLOAT_INPUTS:
        system.add_variable(variable(name, float))
    for name, value_type, formula in FORMULAS:
        system.add_variable(variable(name, value_type, formula))
    return system


def run(system: TaxBenefitSystem, data: dict[str, np.ndarray], variant: str,
        period: str = "2024") -> tuple[dict[str, np.ndarray], float]:
    """One timed run: build the simulation, set the inputs, calculate the outputs."""
    ORDERING["how"] = variant
    inputs = (*INT_INPUTS, *FLOAT_INPUTS) + (("policy_version", "cap_used_before") if variant == "given" else ())
    n = len(data["medfee_sumamt"])
    started = time.perf_counter()
    simulation = SimulationBuilder().build_default_simulation(system, count=n)
    for name in inputs:
        simulation.set_input(name, period, data[name])
    out = {name: simulation.calculate(name, period) for name in OUTPUTS}
    return out, time.perf_counter() - started


def threads() -> dict:
    info: dict = {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                          "NUMEXPR_NUM_THREADS")}
    import numexpr
    numexpr.set_num_threads(1)
    info["numexpr_threads"] = numexpr.get_num_threads()
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
        threadpool_limits(1)
        info["threadpools"] = [(p["internal_api"], p["num_threads"]) for p in threadpool_info()]
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed"
    return info


if __name__ == "__main__":
    source, target, variant, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    thread_info = threads()
    inputs = dict(np.load(source))
    for key in [k for k in inputs if k.startswith("grid_")]:
        GRID[key[5:]] = inputs.pop(key)
    system = build_system()
    run(system, {k: v[:1000] for k, v in inputs.items()}, variant)  # warm-up
    timings = []
    for _ in range(repeat):
        results, seconds = run(system, inputs, variant)
        timings.append(seconds)
    np.savez(target, **results)
    print(json.dumps({"seconds": timings, "dtype": str(results["hifp_pay"].dtype), "threads": thread_info}))
