"""Batch aggregation of settlements on DuckDB (C1 prepayment, C2 clearing), at national volume.

How the data gets to DuckDB: DuckDB's sqlite and postgres scanners are extensions that DuckDB
downloads on first use, and this machine (and CI) has no route to their download site, so they are
not used. Instead the database's settlements are streamed through SQLAlchemy in chunks (server-side
cursor on PostgreSQL), each chunk turned into NumPy columns and inserted into an in-memory DuckDB
table — DuckDB scans a dict of NumPy arrays directly, so neither pandas nor pyarrow is needed. The
same SQL runs over Parquet files (``read_parquet``), which is what bench/clearing.py measures.

Only the columns clearing needs are copied, and only the rows that can touch the period (settled in
it, or cancelled in it), so a month of national volume is one pass over ~20 million narrow rows.
"""

from __future__ import annotations

from datetime import date
from typing import Callable, Iterable, Sequence

import duckdb
import numpy as np
from sqlalchemy import Connection, String, cast, func, or_, select

from yidi.adapters.orm import SettlementRow

COLUMNS = ("setl_id", "kind", "status", "insuplc_admdvs", "mdtrtarea_admvs", "fixmedins_code", "setl_date",
           "cancelled_on", "fund_pay_sumamt", "acct_pay")
DDL = """CREATE TABLE settlements (setl_id VARCHAR, kind VARCHAR, status VARCHAR, insuplc_admdvs VARCHAR,
  mdtrtarea_admvs VARCHAR, fixmedins_code VARCHAR, setl_date DATE, cancelled_on DATE,
  fund_pay_sumamt BIGINT, acct_pay BIGINT)"""

# The one statement of which settlements a clearing period contains (C2), shared by the database path
# and the Parquet benchmark. A settlement counts in the month it settled (当月), unless it was
# cancelled before that month ended (then it never reaches clearing). A settlement cancelled after
# its month ended was cleared with that month, so it comes back negative in the month of the
# cancellation (调整). Only cross-region direct settlements are cleared; local ones and manual
# reimbursements (零星报销) never leave the insured region's fund.
CLEARING_SQL = """
WITH marked AS (
  SELECT insuplc_admdvs, mdtrtarea_admvs, fund_pay_sumamt + coalesce(acct_pay, 0) AS amount,
         (setl_date BETWEEN $start AND $end AND (cancelled_on IS NULL OR cancelled_on > $end)) AS is_current,
         (setl_date < $start AND cancelled_on BETWEEN $start AND $end
          AND cancelled_on > last_day(setl_date)) AS is_adjustment
  FROM {source}
  WHERE kind = 'direct' AND insuplc_admdvs <> mdtrtarea_admvs
)
SELECT insuplc_admdvs, mdtrtarea_admvs,
       count(*) FILTER (WHERE is_current) AS current_count,
       coalesce(sum(amount) FILTER (WHERE is_current), 0) AS current_fen,
       count(*) FILTER (WHERE is_adjustment) AS adjustment_count,
       coalesce(-sum(amount) FILTER (WHERE is_adjustment), 0) AS adjustment_fen
FROM marked
WHERE is_current OR is_adjustment
GROUP BY insuplc_admdvs, mdtrtarea_admvs
ORDER BY insuplc_admdvs, mdtrtarea_admvs
"""

# Q4 settled fund amounts per insured city → treatment city (C1); cancelled settlements do not count.
Q4_SQL = """
SELECT insuplc_admdvs, mdtrtarea_admvs, count(*) AS settlements, sum(fund_pay_sumamt + coalesce(acct_pay, 0)) AS total_fen
FROM {source}
WHERE kind = 'direct' AND insuplc_admdvs <> mdtrtarea_admvs AND cancelled_on IS NULL
  AND setl_date BETWEEN $start AND $end
GROUP BY insuplc_admdvs, mdtrtarea_admvs
ORDER BY insuplc_admdvs, mdtrtarea_admvs
"""

DATE_COLUMNS = ("setl_date", "cancelled_on")
FlowRow = tuple[str, str, int, int, int, int]


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")  # our own Rich bar reports progress
    if threads:
        connection.execute(f"SET threads = {int(threads)}")
    return connection


def _where_touching(start: date, end: date):
    return (SettlementRow.kind == "direct", SettlementRow.insuplc_admdvs != SettlementRow.mdtrtarea_admvs,
            or_(SettlementRow.setl_date.between(start, end), SettlementRow.cancelled_on.between(start, end)))


def count_touching(connection: Connection, start: date, end: date) -> int:
    return int(connection.scalar(select(func.count()).select_from(SettlementRow).where(*_where_touching(start, end))))


def _chunk_arrays(rows: Sequence[Sequence]) -> dict[str, np.ndarray]:
    columns = list(zip(*rows))
    arrays: dict[str, np.ndarray] = {}
    for name, values in zip(COLUMNS, columns):
        if name in ("fund_pay_sumamt", "acct_pay") and None not in values:
            arrays[name] = np.fromiter(values, dtype=np.int64, count=len(values))
        elif name in ("fund_pay_sumamt", "acct_pay"):
            arrays[name] = np.array([value or 0 for value in values], dtype=np.int64)
        else:
            arrays[name] = np.array(values, dtype=object)
    return arrays


Progress = Callable[[str, int, int], None]  # (phase, done, total): drives the CLI's Rich progress bar


def load_settlements(duck: duckdb.DuckDBPyConnection, connection: Connection, start: date, end: date, *,
                     chunk_rows: int = 100_000, progress: Progress | None = None, phase: str = "读取结算数据") -> int:
    """Copy the settlements that touch [start, end] from the database into DuckDB table ``settlements``,
    reporting (phase, rows loaded, rows to load) after every chunk when ``progress`` is given."""
    total = count_touching(connection, start, end) if progress else 0
    if progress:
        progress(phase, 0, total)
    duck.execute(DDL)
    # Dates travel as 'YYYY-MM-DD' text and DuckDB casts them: parsing 20 million dates into Python
    # objects and back would cost more than the whole aggregation.
    columns = [cast(getattr(SettlementRow, name), String) if name in DATE_COLUMNS else getattr(SettlementRow, name)
               for name in COLUMNS]
    result = connection.execution_options(stream_results=True, yield_per=chunk_rows).execute(
        select(*columns).where(*_where_touching(start, end)))
    loaded = 0
    for rows in result.partitions(chunk_rows):
        chunk = _chunk_arrays(rows)  # noqa: F841 - DuckDB scans the local name `chunk`
        duck.execute(f"INSERT INTO settlements SELECT {', '.join(COLUMNS)} FROM chunk")
        loaded += len(rows)
        if progress:
            progress(phase, loaded, total)
    return loaded


def clearing_flows(duck: duckdb.DuckDBPyConnection, start: date, end: date, source: str = "settlements") -> list[FlowRow]:
    """Per insured city → treatment city: (current count, current fen, adjustment count, adjustment fen)."""
    rows = duck.execute(CLEARING_SQL.format(source=source), {"start": start, "end": end}).fetchall()
    return [(a, b, int(cc), int(cf), int(ac), int(af)) for a, b, cc, cf, ac, af in rows]


def q4_totals(duck: duckdb.DuckDBPyConnection, start: date, end: date,
              source: str = "settlements") -> list[tuple[str, str, int, int]]:
    rows = duck.execute(Q4_SQL.format(source=source), {"start": start, "end": end}).fetchall()
    return [(a, b, int(count), int(total)) for a, b, count, total in rows]


def parquet_source(paths: Iterable[str]) -> str:
    files = ", ".join("'" + str(path).replace("'", "''") + "'" for path in paths)
    return f"read_parquet([{files}])"
