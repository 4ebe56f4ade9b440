"""The policy files' schema is the domain's policy types (``yidi.domain.policy``): the loader validates each
dated version of a file straight into them. This module keeps the old import path working."""

from __future__ import annotations

from yidi.domain.policy import (  # noqa: F401 - the old import path of the policy types
    Benefits,
    CatalogItem,
    CatalogVersion,
    ChronicDisease,
    Figure,
    FilingRules,
    FilingTypeName,
    FirstSelfpay,
    InpatientPolicy,
    InsuredPolicyVersion,
    Level,
    NationalCaps,
    OutpatientPolicy,
    Percent,
    Reductions,
    RemoteRules,
    SpecialDrugPolicy,
    Strict,
    TemporaryType,
    YuanFen,
)
