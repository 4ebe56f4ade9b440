"""The per-process institution cache never hides a newly loaded institution (real databases)."""

from __future__ import annotations

import pytest

from yidi.adapters.orm import InstitutionRow
from yidi.domain.errors import YidiError
from yidi.services import lookups


def test_found_institutions_are_cached_and_unknown_ones_are_not(ctx):
    with ctx.unit_of_work() as session:
        beijing = lookups.institution(session, "H11000000001")
        assert (beijing.admdvs, beijing.networked) == ("110000", True)
        with pytest.raises(YidiError) as refused:
            lookups.institution(session, "H11000000999")
        assert refused.value.code == "UNKNOWN_INSTITUTION"
    with ctx.unit_of_work() as session:
        session.add(InstitutionRow(fixmedins_code="H11000000999", name="新医院", admdvs="110000", level=2))
    with ctx.unit_of_work() as session:
        assert lookups.institution(session, "H11000000999").level == 2  # usable at once
