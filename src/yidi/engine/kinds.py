"""The benefit kinds as the batch engine uses them: the domain's (``yidi.domain.kinds``), not a copy.

The kinds, their reductions and 首先自付 applicability are one rule for both engines; they live in the domain
and this module only names them for the engine's callers (``engine.tables`` fills its lookup tables from them).
"""

from __future__ import annotations

from yidi.domain.coverage import coverage_kind  # noqa: F401 - re-exported for callers
from yidi.domain.kinds import (  # noqa: F401 - re-exported for callers
    BENEFIT_KINDS,
    KIND_INDEX,
    MED_CLASSES,
    TEMPORARY_KINDS,
    first_selfpay_applies,
    reduction_pp,
)
