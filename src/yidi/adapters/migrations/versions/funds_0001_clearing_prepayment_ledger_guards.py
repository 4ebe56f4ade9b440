"""funds: clearing runs, prepayments, ledger guards (balanced entries, append-only)

Revision ID: funds_0001
Revises: 0001

PostgreSQL: a deferred constraint trigger checks at commit that every journal entry touched by the
transaction sums to zero; BEFORE UPDATE/DELETE triggers refuse changes to postings and journal
entries (TRUNCATE, used only by the test fixtures to empty a database, is not a row change).
SQLite: the same append-only triggers; balance is checked in code (services/ledger.py) and by
``yidi clearing verify``.
"""
from alembic import op
import sqlalchemy as sa

revision = "funds_0001"
down_revision = "0001"
branch_labels = None
depends_on = None

PG_GUARDS = [
    """
    CREATE OR REPLACE FUNCTION yidi_entry_must_balance() RETURNS trigger AS $$
    DECLARE total bigint;
    BEGIN
      SELECT COALESCE(SUM(amount_fen), 0) INTO total FROM postings WHERE entry_id = NEW.entry_id;
      IF total <> 0 THEN
        RAISE EXCEPTION '分录 % 借贷不平衡（合计 % 分）', NEW.entry_id, total USING ERRCODE = 'check_violation';
      END IF;
      RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE CONSTRAINT TRIGGER postings_entry_balanced AFTER INSERT ON postings
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION yidi_entry_must_balance()
    """,
    """
    CREATE OR REPLACE FUNCTION yidi_append_only() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION '% 只能追加，拒绝 %；更正请记新的分录', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
      FOR EACH ROW EXECUTE FUNCTION yidi_append_only()
    """,
    """
    CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
      FOR EACH ROW EXECUTE FUNCTION yidi_append_only()
    """,
]

SQLITE_GUARDS = [
    f"""
    CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table}
    BEGIN SELECT RAISE(ABORT, '{table} 只能追加，拒绝 {op_name}；更正请记新的分录'); END
    """
    for table in ("postings", "journal_entries") for op_name in ("UPDATE", "DELETE")
]


def upgrade() -> None:
    op.create_table(
        "clearing_runs",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("watermark_posting_id", sa.BigInteger(), nullable=False),
        sa.Column("current_count", sa.Integer(), nullable=False),
        sa.Column("current_fen", sa.BigInteger(), nullable=False),
        sa.Column("adjustment_count", sa.Integer(), nullable=False),
        sa.Column("adjustment_fen", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("month"),
    )
    op.create_table(
        "clearing_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("mdtrtarea_admvs", sa.String(length=6), nullable=False),
        sa.Column("insured_province", sa.String(length=6), nullable=False),
        sa.Column("treatment_province", sa.String(length=6), nullable=False),
        sa.Column("current_count", sa.Integer(), nullable=False),
        sa.Column("current_fen", sa.BigInteger(), nullable=False),
        sa.Column("adjustment_count", sa.Integer(), nullable=False),
        sa.Column("adjustment_fen", sa.BigInteger(), nullable=False),
        sa.Column("net_fen", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.String(length=48), nullable=False),
        sa.ForeignKeyConstraint(["month"], ["clearing_runs.month"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("month", "insuplc_admdvs", "mdtrtarea_admvs", name="uq_clearing_line_flow"),
    )
    op.create_index("ix_clearing_lines_month", "clearing_lines", ["month"])
    op.create_table(
        "prepayments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("payer_admdvs", sa.String(length=6), nullable=False),
        sa.Column("payee_admdvs", sa.String(length=6), nullable=False),
        sa.Column("q4_total_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("previous_fen", sa.BigInteger(), nullable=False),
        sa.Column("adjustment_fen", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.String(length=48), nullable=True),
        sa.Column("confirmed_by", sa.String(length=60), nullable=False),
        sa.Column("confirmed_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("year", "payer_admdvs", "payee_admdvs", name="uq_prepayment_flow_year"),
    )
    op.create_index("ix_prepayments_year", "prepayments", ["year"])
    guards = PG_GUARDS if op.get_bind().dialect.name == "postgresql" else SQLITE_GUARDS
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS journal_entries_append_only ON journal_entries")
        op.execute("DROP TRIGGER IF EXISTS postings_append_only ON postings")
        op.execute("DROP TRIGGER IF EXISTS postings_entry_balanced ON postings")
        op.execute("DROP FUNCTION IF EXISTS yidi_append_only()")
        op.execute("DROP FUNCTION IF EXISTS yidi_entry_must_balance()")
    else:
        for table in ("postings", "journal_entries"):
            for op_name in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op_name}")
    op.drop_index("ix_prepayments_year", table_name="prepayments")
    op.drop_table("prepayments")
    op.drop_index("ix_clearing_lines_month", table_name="clearing_lines")
    op.drop_table("clearing_lines")
    op.drop_table("clearing_runs")
