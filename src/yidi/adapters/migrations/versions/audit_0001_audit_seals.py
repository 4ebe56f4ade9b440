"""audit: the hash chain moves off the write path into an append-only ``audit_seals`` table

Revision ID: audit_0001
Revises: 0001

Writers insert audit rows without chaining them (no lock on the chain head, no extra round trip);
the sealer (services/audit.py ``seal``) appends one seal per audit row, in id order, each hash covering
the previous seal's hash. Rows written before this revision were already chained in ``audit_log``
(prev_hash, hash); their hashes are copied into ``audit_seals`` in id order, so the chain continues
unbroken. Both tables stay append-only: triggers refuse UPDATE and DELETE on ``audit_seals`` here, on
``audit_log`` in reliability_0001.
"""
from alembic import op
import sqlalchemy as sa

revision = "audit_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_seals",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("audit_id", sa.Integer, sa.ForeignKey("audit_log.id"), nullable=False, unique=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sealed_at", sa.DateTime, nullable=False),
    )
    op.execute("INSERT INTO audit_seals (audit_id, prev_hash, hash, sealed_at) "
               "SELECT id, prev_hash, hash, at FROM audit_log WHERE hash <> '' ORDER BY id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION yidi_audit_seals_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'append-only table %: % refused', TG_TABLE_NAME, TG_OP;
            END;
            $$ LANGUAGE plpgsql;
        """)
        op.execute("""
            CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON audit_seals
            FOR EACH ROW EXECUTE FUNCTION yidi_audit_seals_refuse_change();
        """)
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_seals_no_{action.lower()} BEFORE {action} ON audit_seals
                BEGIN SELECT RAISE(ABORT, 'append-only table audit_seals: {action} refused'); END;
            """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_seals_append_only ON audit_seals")
        op.execute("DROP FUNCTION IF EXISTS yidi_audit_seals_refuse_change()")
    op.drop_table("audit_seals")
