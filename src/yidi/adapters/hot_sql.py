"""The hospital interface's hot-path SQL, in one place, with the records its rows are read into.

Every complete settlement runs these statements (2401/2201 admission, 2301/2204 fee upload, 2303/2206
pre-settlement, 2304/2207 settlement, and on every call the replay record, the audit row and the stored
answer). They are SQLAlchemy Core statements built once, here; twins that differ in one clause (with or
without a lock, with or without the person, a stay or an outpatient visit) come from one builder each.

How they run (``HotStatement``):

* on PostgreSQL (psycopg), the statement is compiled once per server version and then executed on the
  session's own psycopg connection — same transaction, same locks, same prepared-statement cache — without
  SQLAlchemy's per-statement execution context, events and result wrapping (measured: about a third of the
  server's CPU per call went there; docs/benchmarks.md "Hot path"). Errors go through SQLAlchemy's own
  handler, so callers still see ``sqlalchemy.exc.IntegrityError`` / ``OperationalError`` and a dropped
  connection is still invalidated;
* on SQLite (and any other dialect) the same statement runs through SQLAlchemy Core as before.

Writes nobody reads a row count of (a settlement's rows, the audit row, the stored answer) may be *queued*
(``HotStatement.queue``): on PostgreSQL they are held back and sent together as one statement — each one a
data-modifying ``WITH`` part — just before the next statement on the session or at commit, whichever comes
first (``flush_queued``; the session events in ``install_flush_events`` see to it). Nothing reads a write before
it is sent, so every read sees what it saw before; the rows, locks and constraints are the same, checked by the
same statement's end (foreign keys) or the commit (the ledger's balance trigger). A constraint violation in a
queued write is raised by the statement or commit that sent it, inside the same unit of work. Elsewhere a
queued write simply runs at once.

A write that no statement of its transaction ever reads — the signed request's replay record — may instead *ride
along* (``HotStatement.ride_along``): it becomes a ``WITH`` part of the transaction's next hot statement, read or
write, saving that round trip; when none comes, it goes with the queued writes. A key it violates fails the
statement it rode with (``REQUEST_REPLAYED`` is recognised by its table: services/replay_guard.py).

Rows come back as plain tuples in the order of the records below (``VisitRecord``, ``PersonRecord``, …),
which the services turn into those typed, immutable records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Iterable, Mapping, NamedTuple, NoReturn, Sequence

from psycopg import RawCursor
from sqlalchemy import (BigInteger, ColumnElement, Insert, Integer, Select, Table, Update, and_, bindparam, cast,
                        event, func, insert, or_, select, update)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

from yidi.adapters.orm import (AuditRow, Base, FeeDetailRow, FilingRow, JournalEntryRow, MessageRow, PersonRow, PostingRow,
                               SettlementRow, UsageRow, VisitRow)
from yidi.adapters.orm_interface import SeenRequestRow
from yidi.domain.coverage import MED_CLASS_OF, MedClass

Params = Mapping[str, Any]
Statement = Select[Any] | Insert | Update
_FEW = 64  # rows a run_many binds itself (see HotStatement.run_many)


# ------------------------------------------------------------------------ records --
class VisitRecord(NamedTuple):
    """A visit's columns (visits, without created_at), as the hot path reads and writes them."""

    mdtrt_id: str
    psn_no: str
    fixmedins_code: str
    med_type: str
    begntime: date
    endtime: date | None
    dise_codg: str | None
    emergency: bool
    trauma_no_third_party: bool | None
    state: str
    mdtrt_cert_type: str


class PersonRecord(NamedTuple):
    """What the settlement and the interface's answer need of a person (lock_version is never read)."""

    psn_no: str
    certno: str
    name: str
    insuplc_admdvs: str
    insutype: str
    insu_status: str
    acct_balc: int


class FeeRecord(NamedTuple):
    """An active fee-detail row, as settlement nets it (refunds name their original in init_feedetl_sn)."""

    feedetl_sn: str
    init_feedetl_sn: str | None
    med_list_codg: str
    name: str
    cnt: str
    det_item_fee_sumamt_fen: int


class FilingRecord(NamedTuple):
    """A filing's columns that ``services.filings.to_domain`` reads."""

    filing_id: str
    psn_no: str
    insuplc_admdvs: str
    filing_type: str
    basis: str
    mdtrtarea_admvs: str
    begndate: date
    enddate: date | None
    apply_date: date
    channel: str
    status: str
    approve_due_date: date | None
    replaces: str | None
    replaced_by: str | None
    reason: str


class OpenStay(NamedTuple):
    mdtrt_id: str
    fixmedins_code: str
    begntime: date


# ---------------------------------------------------------------------- execution --
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


@dataclass(frozen=True)
class _Compiled:
    """A statement compiled for one PostgreSQL dialect: its SQL with PostgreSQL's own ``$n`` placeholders (run on
    a psycopg ``RawCursor``, so psycopg does not re-parse the text on every call) and how to bind its parameters,
    in placeholder order."""

    sql: str
    names: tuple[str, ...]  # the bind parameter of $1, $2, …
    compiled: SQLCompiler
    processors: dict[str, Callable[[Any], Any]]

    @classmethod
    def of(cls, compiled: SQLCompiler, processors: dict[str, Callable[[Any], Any]]) -> _Compiled:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(0) == "%%":  # a literal percent sign in pyformat
                return "%"
            name = match.group(1)
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        return cls(_PLACEHOLDER.sub(number, compiled.string), tuple(names), compiled, processors)

    def bind(self, params: Params) -> list[Any]:
        values = self.compiled.construct_params(dict(params))  # the statement's own literals, the rest checked
        bound = []
        for name in self.names:
            value = values[name]
            process = self.processors.get(name)
            bound.append(process(value) if process is not None and value is not None else value)
        return bound


class HotStatement:
    """One hot-path statement (see the module docstring for how it runs). ``returns_rows``: a SELECT."""

    def __init__(self, statement: Statement, *, returns_rows: bool = False) -> None:
        self.statement = statement
        self.returns_rows = returns_rows
        self._compiled: dict[tuple[Any, ...], _Compiled] = {}

    def rows(self, session: Session, params: Params) -> list[tuple[Any, ...]]:
        return self._execute(session, params)[0]

    def first(self, session: Session, params: Params) -> tuple[Any, ...] | None:
        rows = self.rows(session, params)
        return rows[0] if rows else None

    def run(self, session: Session, params: Params) -> int:
        """Execute a write; returns the number of rows it touched."""
        return self._execute(session, params)[1]

    def queue(self, session: Session, params: Params) -> None:
        """This write, sent with the transaction's other queued writes (module docstring); at once on SQLite."""
        link = _link(session)
        if link.cursor is None:
            self.run(session, params)
            return
        link.queued.append((self, params))

    def ride_along(self, session: Session, params: Params) -> None:
        """This write as part of the transaction's next hot statement (module docstring); at once on SQLite."""
        link = _link(session)
        if link.cursor is None:
            self.run(session, params)
            return
        link.riders.append((self, params))

    def run_many(self, session: Session, params: Sequence[Params]) -> None:
        """The same write for each parameter set. A few (a visit's fee rows, a settlement's postings) are bound
        here and pipelined by psycopg; many (a clearing month's ledger) go through SQLAlchemy, whose
        executemany batches them into multi-row VALUES."""
        if not params:
            return
        link = _link(session)
        if link.queued or link.riders:
            _send_queued(session, link)
        if link.cursor is None or len(params) > _FEW:
            link.connection.execute(self.statement, [dict(p) for p in params])
            return
        compiled = self.compiled_for(link.connection.dialect)
        try:
            link.cursor.executemany(compiled.sql, [compiled.bind(p) for p in params])
        except Exception as exc:  # noqa: BLE001 - see _execute
            _failed(session, link, exc, compiled.sql, params)

    def _execute(self, session: Session, params: Params) -> tuple[list[tuple[Any, ...]], int]:
        link = _link(session)
        if link.cursor is None:  # SQLite: SQLAlchemy Core runs the same statement
            result = link.connection.execute(self.statement, dict(params))
            return ([tuple(row) for row in result] if self.returns_rows else []), result.rowcount
        if link.queued:
            _send_queued(session, link)  # the riders with them: a rider is read by nobody, this statement included
        compiled = self.compiled_for(link.connection.dialect)
        cursor = link.cursor
        sql, values = compiled.sql, compiled.bind(params)
        if link.riders:
            sql, values = _with_riders(link, self, values)
        try:
            cursor.execute(sql, values)
            return (cursor.fetchall() if self.returns_rows else []), int(cursor.rowcount)
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's handler wraps (IntegrityError …), invalidates, re-raises
            _failed(session, link, exc, sql, params)

    def compiled_for(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver, dialect.server_version_info)
        found = self._compiled.get(key)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            # A Python-side column default would be filled in by SQLAlchemy's execution context, which this path
            # skips: every INSERT here names all its columns (server defaults, e.g. created_at, are the database's).
            missing = [column.key for column in getattr(compiled, "insert_prefetch", ())]
            if missing:
                raise AssertionError(f"hot statement leaves Python-side defaults unset: {missing}")
            processors = {}
            for name, bind in compiled.binds.items():
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    processors[name] = process
            found = _Compiled.of(compiled, processors)
            self._compiled[key] = found
        return found


@dataclass(frozen=True)
class _Link:
    """The session's connection in its current transaction, and (psycopg) one cursor on it for the hot statements."""

    transaction: object
    connection: Connection
    cursor: Any  # a psycopg cursor; None on other drivers (SQLAlchemy runs the statement)
    queued: list[tuple[HotStatement, Params]]  # writes not sent yet (HotStatement.queue)
    riders: list[tuple[HotStatement, Params]]  # writes to send with the next statement (HotStatement.ride_along)


_LINK = "yidi.hot_sql"  # key in Session.info


def _link(session: Session) -> _Link:
    """``session.connection()`` and a cursor, looked up once per transaction: asking the session for its connection
    costs a walk through its transaction state on every call, and a psycopg cursor is a Python object per call."""
    transaction = session.get_transaction()
    link: _Link | None = session.info.get(_LINK)
    if link is None or link.transaction is not transaction or link.connection.closed or link.connection.invalidated:
        connection = session.connection()
        transaction = session.get_transaction()  # begun by connection() when there was none
        dialect = connection.dialect
        cursor = None
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            driver = connection.connection.driver_connection
            assert driver is not None
            cursor = RawCursor(driver)  # $n placeholders (_Compiled)
        link = _Link(transaction, connection, cursor, [], [])
        session.info[_LINK] = link
    return link


def on_postgresql(session: Session) -> bool:
    """The hot statements run on the session's psycopg connection (PostgreSQL-only statements may be used)."""
    return _link(session).cursor is not None


def flush_queued(session: Session) -> None:
    """Send the writes this session's transaction has queued (none: nothing to do)."""
    link: _Link | None = session.info.get(_LINK)
    if link is not None and (link.queued or link.riders) and link.transaction is session.get_transaction():
        _send_queued(session, link)


def _with_riders(link: _Link, statement: HotStatement, values: list[Any]) -> tuple[str, list[Any]]:
    """``statement`` with the link's riders as WITH parts before it: the SQL and all parameters."""
    riders, link.riders[:] = tuple(link.riders), []
    dialect = link.connection.dialect
    bound = [value for rider, params in riders for value in rider.compiled_for(dialect).bind(params)]
    return _combined((*(rider for rider, _params in riders), statement), dialect), [*bound, *values]


def _send_queued(session: Session, link: _Link) -> None:
    writes, link.riders[:], link.queued[:] = (*link.riders, *link.queued), [], []
    dialect = link.connection.dialect
    combined = _combined(tuple(statement for statement, _params in writes), dialect)
    params: list[Any] = []
    for statement, values in writes:
        params += statement.compiled_for(dialect).bind(values)
    try:
        link.cursor.execute(combined, params)
    except Exception as exc:  # noqa: BLE001 - see HotStatement._execute
        _failed(session, link, exc, combined, params)


_DOLLAR = re.compile(r"\$(\d+)")
_COMBINED: dict[tuple[Any, ...], str] = {}


def _combined(statements: tuple[HotStatement, ...], dialect: Dialect) -> str:
    """One statement doing ``statements``: ``WITH q0 AS (<first>), q1 AS (<second>) … <last>``, each part's
    placeholders numbered on from the previous part's. Built once per sequence of statements (a use case queues
    the same few sequences over and over, so psycopg prepares each one)."""
    key = (statements, dialect.name, dialect.driver, dialect.server_version_info)
    found = _COMBINED.get(key)
    if found is None:
        parts, offset = [], 0
        for statement in statements:
            compiled = statement.compiled_for(dialect)
            if compiled.sql.lstrip().upper().startswith("WITH"):  # a data-modifying WITH must be at the top level
                raise AssertionError("a queued write cannot have a WITH clause of its own")
            parts.append(_DOLLAR.sub(lambda m, at=offset: f"${int(m.group(1)) + at}", compiled.sql))
            offset += len(compiled.names)
        *first, last = parts
        found = "".join(f"{'WITH' if i == 0 else ','} q{i} AS ({sql}) " for i, sql in enumerate(first)) + last
        _COMBINED[key] = found
    return found


def install_flush_events(sessions: Any) -> None:
    """Queued writes go out before anything else the session runs and before its commit: the ORM's statements
    and flushes (``do_orm_execute``, ``before_flush``) and the commit (``before_commit``). Statements run on
    ``session.connection()`` directly do not pass through these events and may go before queued writes: only reads
    of tables no queued write touches take that path (institutions, 特药 recognitions, 双通道 designations)."""
    for name in ("before_commit", "before_flush"):
        event.listen(sessions, name, lambda session, *_args: flush_queued(session))
    event.listen(sessions, "do_orm_execute", lambda state: flush_queued(state.session))
    # A savepoint (begin_nested) starts with nothing queued, so that rolling it back drops exactly its own writes.
    event.listen(sessions, "after_transaction_create",
                 lambda session, transaction: flush_queued(session) if transaction.nested else None)
    event.listen(sessions, "after_rollback", _drop_queued)


def _drop_queued(session: Session) -> None:
    link: _Link | None = session.info.get(_LINK)
    if link is not None:
        link.queued.clear()
        link.riders.clear()


def _failed(session: Session, link: _Link, exc: Exception, sql: str, params: Params | Sequence[Params]) -> NoReturn:
    """A driver error on the hot path, handed to SQLAlchemy's own handler: it raises the same exception a Core
    statement would (IntegrityError, OperationalError …) and invalidates the connection when it was lost."""
    session.info.pop(_LINK, None)
    link.connection._handle_dbapi_exception(exc, sql, params, link.cursor, None)  # private, stable since 1.4


def _insert(table: Table, keys: Iterable[str]) -> HotStatement:
    """INSERT naming exactly ``keys`` (each bound under its column's name and type)."""
    return HotStatement(insert(table).values({key: bindparam(key, type_=table.c[key].type) for key in keys}))


def _insert_lines(table: Table, keys: tuple[str, ...], *, common: tuple[str, ...] = ()) -> HotStatement:
    """PostgreSQL only: many rows of ``table`` in one statement — ``INSERT … SELECT … FROM unnest(<one array per
    column>) WITH ORDINALITY ORDER BY ordinality``, so serial ids follow the arrays' order; each ``common`` column
    takes one value for all rows. The arrays are bound under the column names, cast to the columns' types (an
    array of NULLs has no type of its own)."""
    arrays = [cast(bindparam(key), ARRAY(table.c[key].type)) for key in keys]
    lines = func.unnest(*arrays).table_valued(*keys, with_ordinality="n").render_derived(name="line")
    rows = (select(*(bindparam(key, type_=table.c[key].type) for key in common), *(lines.c[key] for key in keys))
            .order_by(lines.c.n))
    return HotStatement(insert(table).from_select([*common, *keys], rows))


def _columns(table: Table, record: type[tuple[Any, ...]]) -> list[ColumnElement[Any]]:
    """The table's columns in the record's field order (the record is what the row is read into)."""
    return [table.c[name] for name in record._fields]  # type: ignore[attr-defined]


def _is_inpatient(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """``column`` names a stay's med_type (21/22/23), written as plain comparisons (no expanding IN)."""
    return or_(*(column == code for code, cls in MED_CLASS_OF.items() if cls is MedClass.INPATIENT))


# ------------------------------------------------------------------- the statements --
def _table(mapped: type[Base]) -> Table:
    table = mapped.__table__
    assert isinstance(table, Table)
    return table


_visits, _fees, _persons = _table(VisitRow), _table(FeeDetailRow), _table(PersonRow)
_filings, _usage, _settlements = _table(FilingRow), _table(UsageRow), _table(SettlementRow)
_VISIT_COLUMNS = _columns(_visits, VisitRecord)
_PERSON_COLUMNS = _columns(_persons, PersonRecord)
_FEE_COLUMNS = _columns(_fees, FeeRecord)
VISIT_SLICE = slice(0, len(VisitRecord._fields))
PERSON_SLICE = slice(VISIT_SLICE.stop, VISIT_SLICE.stop + len(PersonRecord._fields))

# --- 2401 / 2201: admission
LOCK_PERSON = HotStatement(select(_persons.c.psn_no).where(_persons.c.psn_no == bindparam("psn_no"))
                           .with_for_update(), returns_rows=True)
SELECT_PERSON_INSUTYPE = HotStatement(select(_persons.c.psn_no, _persons.c.insutype)
                                      .where(_persons.c.psn_no == bindparam("psn_no")), returns_rows=True)
_OPEN_STAY_OF_PERSON = and_(_visits.c.psn_no == bindparam("psn_no"), _visits.c.state == "registered",
                            _is_inpatient(_visits.c.med_type))
SELECT_OPEN_STAY = HotStatement(select(*_columns(_visits, OpenStay)).where(_OPEN_STAY_OF_PERSON).limit(1),
                                returns_rows=True)


def _insert_visit_of_person(*, stay: bool, with_insutype: bool) -> HotStatement:
    """The visit in one statement: INSERT … SELECT from the person's row, so that nothing is inserted when the
    person is unknown, (when the call names one) of another insurance type, or — for a stay — already has an
    open stay (the INSERT's own snapshot, taken after the person lock was granted, sees a stay another admission
    committed meanwhile). The visit's psn_no comes from the person row."""
    person_visit = select(*(_persons.c.psn_no if column.key == "psn_no" else bindparam(column.key, type_=column.type)
                            for column in _VISIT_COLUMNS)).where(_persons.c.psn_no == bindparam("psn_no"))
    if with_insutype:
        person_visit = person_visit.where(_persons.c.insutype == bindparam("insutype"))
    if stay:
        person_visit = person_visit.where(~select(_visits.c.mdtrt_id).where(_OPEN_STAY_OF_PERSON).exists())
    # preserve_rowcount: on SQLite (Core) an INSERT's rowcount is collected only when asked
    return HotStatement(insert(_visits).from_select(list(VisitRecord._fields), person_visit)
                        .execution_options(preserve_rowcount=True))


INSERT_VISIT_OF_PERSON = {(stay, with_insutype): _insert_visit_of_person(stay=stay, with_insutype=with_insutype)
                          for stay in (False, True) for with_insutype in (False, True)}


# --- 2301 / 2303 / 2304: the visit and its fee rows (and its person) in one statement
def _select_visit(*, with_person: bool, lock: bool) -> HotStatement:
    """The visit, (``with_person``) its person, and its active fee rows: one row per fee row, the fee columns
    NULL when there are none. ``lock`` takes the visit row (and the person row) FOR UPDATE — in that order,
    the order every settlement takes them (visit → person → settlement); PostgreSQL refuses to lock the
    nullable side of the outer join, so the fee rows are not locked."""
    joined = _visits.join(_persons, _persons.c.psn_no == _visits.c.psn_no) if with_person else _visits
    joined = joined.outerjoin(_fees, and_(_fees.c.mdtrt_id == _visits.c.mdtrt_id, _fees.c.active.is_(True)))
    statement = (select(*_VISIT_COLUMNS, *(_PERSON_COLUMNS if with_person else ()), *_FEE_COLUMNS)
                 .select_from(joined).where(_visits.c.mdtrt_id == bindparam("mdtrt_id")).order_by(_fees.c.id))
    if lock:
        statement = statement.with_for_update(of=(_visits, _persons) if with_person else _visits)
    return HotStatement(statement, returns_rows=True)


SELECT_VISIT_WITH_FEES = {lock: _select_visit(with_person=False, lock=lock) for lock in (False, True)}
SELECT_STAY = {lock: _select_visit(with_person=True, lock=lock) for lock in (False, True)}
SELECT_ACTIVE_FEES = HotStatement(select(*_FEE_COLUMNS).where(_fees.c.mdtrt_id == bindparam("mdtrt_id"),
                                                              _fees.c.active.is_(True)).order_by(_fees.c.id),
                                  returns_rows=True)
FEE_KEYS = ("mdtrt_id", "feedetl_sn", "init_feedetl_sn", "med_list_codg", "name", "cnt", "pric_fen",
            "det_item_fee_sumamt_fen", "fee_ocur_time", "active")
INSERT_FEES = _insert(_fees, FEE_KEYS)
INSERT_FEE_LINES = _insert_lines(_fees, FEE_KEYS[1:], common=("mdtrt_id", ))  # PostgreSQL: any number of rows, one statement
MARK_SETTLED = HotStatement(update(_visits).where(_visits.c.mdtrt_id == bindparam("v_mdtrt_id"))
                            .values(state="settled", endtime=bindparam("v_endtime", type_=_visits.c.endtime.type)))

# --- settlement: the person, filings, usage, the paid claim of the same visit
SELECT_PERSON = {lock: HotStatement((lambda s: s.with_for_update() if lock else s)(
    select(*_PERSON_COLUMNS).where(_persons.c.psn_no == bindparam("psn_no"))), returns_rows=True)
    for lock in (False, True)}
SELECT_PAID = HotStatement(select(_settlements.c.setl_id).where(_settlements.c.visit_key == bindparam("visit_key"),
                                                                _settlements.c.status == "settled").limit(1),
                           returns_rows=True)
# The paid claim of the same visit (settlements.visit_key's definition): same person and institution, a paid stay
# admitted the same day or sharing a night with this one (a discharge and a readmission on one day is not an
# overlap, as in supervision's overlapping_stays), or a paid outpatient visit of the same type on the same date —
# whatever the lines. ``v_inpatient`` 1: any stay (21/22/23); 0: the outpatient type ``v_med_type``.
_SAME_VISIT = select(_settlements.c.setl_id).where(
    _settlements.c.psn_no == bindparam("v_psn_no"), _settlements.c.fixmedins_code == bindparam("v_fixmedins_code"),
    _settlements.c.status == "settled",
    or_(and_(bindparam("v_inpatient", type_=Integer) == 1, _is_inpatient(_settlements.c.med_type)),
        and_(bindparam("v_inpatient", type_=Integer) == 0, _settlements.c.med_type == bindparam("v_med_type"))),
    or_(_settlements.c.begntime == bindparam("v_begn", type_=_settlements.c.begntime.type),  # same admission / date
        and_(_settlements.c.begntime < bindparam("v_end", type_=_settlements.c.endtime.type),
             _settlements.c.endtime > bindparam("v_begn", type_=_settlements.c.begntime.type))),
    or_(bindparam("v_any_dise", type_=Integer) == 1,
        func.coalesce(_settlements.c.dise_codg, "") == bindparam("v_dise"))).order_by(_settlements.c.setl_id).limit(1)
_USED = select(_usage.c.used_fen).where(_usage.c.psn_no == bindparam("psn_no"), _usage.c.year == bindparam("year"),
                                        _usage.c.cap_key == bindparam("cap_key"))


def _select_person_facts(*, same_visit: bool) -> HotStatement:
    """The year-to-date usage and the person's filings (one row per filing; one row of NULL filing columns when
    there are none) in one statement; with ``same_visit`` also the paid claim of this visit (``_SAME_VISIT``).
    Run after the person lock is taken, so that under READ COMMITTED it sees the usage the previous settlement
    of this person committed. Row: used_fen, FilingRecord's columns[, paid_setl_id]."""
    statement = (select(_USED.scalar_subquery().label("used_fen"), *_columns(_filings, FilingRecord))
                 .select_from(_persons.outerjoin(_filings, _filings.c.psn_no == _persons.c.psn_no))
                 .where(_persons.c.psn_no == bindparam("psn_no")))
    if same_visit:
        statement = statement.add_columns(_SAME_VISIT.scalar_subquery().label("paid_setl_id"))
    return HotStatement(statement, returns_rows=True)


SELECT_PERSON_FACTS = {same_visit: _select_person_facts(same_visit=same_visit) for same_visit in (False, True)}
FILING_SLICE = slice(1, 1 + len(FilingRecord._fields))

# --- settlement: the writes
SETTLEMENT_KEYS = tuple(column.key for column in _settlements.c if column.key != "created_at")
INSERT_SETTLEMENT = _insert(_settlements, SETTLEMENT_KEYS)
TAKE_FROM_ACCOUNT = HotStatement(update(_persons).where(_persons.c.psn_no == bindparam("a_psn_no"))
                                 .values(acct_balc=_persons.c.acct_balc - bindparam("a_fen", type_=BigInteger)))
INSERT_USAGE = _insert(_usage, ("psn_no", "year", "cap_key", "used_fen"))
ADD_USAGE = HotStatement(update(_usage).where(_usage.c.psn_no == bindparam("p_psn_no"),
                                              _usage.c.year == bindparam("p_year"),
                                              _usage.c.cap_key == bindparam("p_cap_key"))
                         .values(used_fen=_usage.c.used_fen + bindparam("add_fen", type_=BigInteger)))
INSERT_JOURNAL_ENTRY = _insert(_table(JournalEntryRow), ("entry_id", "kind", "ref", "on_date", "memo"))
INSERT_POSTING = _insert(_table(PostingRow), ("entry_id", "account", "amount_fen"))


# a settlement's postings after its journal entry (INSERT_JOURNAL_ENTRY), both queued: one statement
INSERT_POSTING_LINES = _insert_lines(_table(PostingRow), ("account", "amount_fen"), common=("entry_id",))

# --- every call: the replay record, the audit row, the stored answer
INSERT_SEEN_REQUEST = _insert(_table(SeenRequestRow), ("key", "seen_at"))
INSERT_AUDIT = _insert(_table(AuditRow), ("at", "actor", "action", "target", "details", "prev_hash", "hash"))
INSERT_MESSAGE = _insert(_table(MessageRow), ("msgid", "fixmedins_code", "infno", "body_sha256", "response",
                                                "reversed"))

ALL: tuple[HotStatement, ...] = (
    LOCK_PERSON, SELECT_PERSON_INSUTYPE, SELECT_OPEN_STAY, *INSERT_VISIT_OF_PERSON.values(),
    *SELECT_VISIT_WITH_FEES.values(), *SELECT_STAY.values(), SELECT_ACTIVE_FEES, INSERT_FEES, MARK_SETTLED,
    *SELECT_PERSON.values(), SELECT_PAID, *SELECT_PERSON_FACTS.values(), INSERT_SETTLEMENT, TAKE_FROM_ACCOUNT,
    INSERT_USAGE, ADD_USAGE, INSERT_JOURNAL_ENTRY, INSERT_POSTING, INSERT_POSTING_LINES, INSERT_FEE_LINES, INSERT_SEEN_REQUEST,
    INSERT_AUDIT, INSERT_MESSAGE)
