"""Claims files: one row per claim, Parquet, read and written with DuckDB (no pandas, no pyarrow).

Columns (``CLAIM_COLUMNS``): the claim's identity and categories as text (admdvs codes, insutype,
med_type, dise_codg, benefit_kind), dates as DATE, and the scope amounts of steps 1–4 already split
by the treatment region's catalog, in integer fen. Reading turns the categories into the integer
codes of a ``PolicyTables`` inside DuckDB (``list_position``), so no Python loop touches a row.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from yidi.domain.errors import invalid
from yidi.domain.kinds import BENEFIT_KINDS
from yidi.engine.adjudicate import ClaimTable, cross_province
from yidi.engine.tables import MED_TYPES, PolicyTables

SCOPE_COLUMNS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")
CLAIM_COLUMNS = ("claim_no", "psn_no", "insuplc_admdvs", "insutype", "mdtrtarea_admvs", "hospital_level", "med_type",
                 "dise_codg", "begntime", "endtime", "benefit_kind", "item_count", *SCOPE_COLUMNS)


def write_parquet(columns: dict[str, np.ndarray], select_sql: str, path: Path) -> None:
    """Write ``SELECT {select_sql} FROM columns`` (numpy arrays by name) to a Parquet file."""
    generated = columns  # noqa: F841 - DuckDB scans this dict of numpy arrays by its variable name
    target = str(path).replace("'", "''")
    con = duckdb.connect()
    try:
        con.execute(f"COPY (SELECT {select_sql} FROM generated) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    finally:
        con.close()


def read_claims(path: Path, tables: PolicyTables) -> tuple[ClaimTable, dict[str, np.ndarray]]:
    """The engine's ClaimTable and the text columns used for reporting (insured region, med type, level)."""
    if not Path(path).exists():
        raise invalid("--claims", f"文件不存在: {path}")
    con = duckdb.connect()
    source = str(path).replace("'", "''")
    try:
        columns = con.execute(f"""
            SELECT dense_rank() OVER (ORDER BY psn_no) - 1 AS person,
                   coalesce(list_position($regions, insuplc_admdvs), 0) - 1 AS region,
                   coalesce(list_position($insutypes, insutype), 0) - 1 AS insutype,
                   hospital_level::BIGINT AS hospital_level,
                   coalesce(list_position($med_types, med_type), 0) - 1 AS med_type,
                   coalesce(list_position($diseases, dise_codg), 0) - 1 AS disease,
                   (endtime - DATE '1970-01-01')::BIGINT AS discharge_day,
                   coalesce(list_position($kinds, benefit_kind), 0) - 1 AS benefit_kind,
                   {", ".join(f"{c}::BIGINT AS {c}" for c in SCOPE_COLUMNS)},
                   insuplc_admdvs, mdtrtarea_admvs, med_type AS med_type_text
            FROM read_parquet('{source}') ORDER BY claim_no""",
            {"regions": list(tables.regions), "insutypes": list(tables.insutypes), "med_types": list(MED_TYPES),
             "diseases": list(tables.diseases), "kinds": list(BENEFIT_KINDS)}).fetchnumpy()
    except duckdb.Error as exc:
        raise invalid("--claims", f"无法读取理赔文件: {exc}") from exc
    finally:
        con.close()
    as_int = {name: np.asarray(columns[name], dtype=np.int64) for name in
              ("person", "region", "insutype", "hospital_level", "med_type", "disease", "discharge_day",
               "benefit_kind", *SCOPE_COLUMNS)}
    claims = ClaimTable(**as_int, cross_province=cross_province(columns["insuplc_admdvs"], columns["mdtrtarea_admvs"]))
    labels = {"insuplc_admdvs": np.asarray(columns["insuplc_admdvs"]).astype(str),
              "med_type": np.asarray(columns["med_type_text"]).astype(str),
              "hospital_level": as_int["hospital_level"]}
    return claims, labels
