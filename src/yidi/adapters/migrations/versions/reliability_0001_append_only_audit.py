"""Append-only audit log on PostgreSQL: a trigger refuses UPDATE and DELETE (issue 9, I3).

SQLite gets the equivalent triggers so the embedded default behaves the same.

Revision ID: reliability_0001
Revises: 0001
"""
from alembic import op

revision = "reliability_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION yidi_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'append-only table %: % refused', TG_TABLE_NAME, TG_OP;
            END;
            $$ LANGUAGE plpgsql;
        """)
        op.execute("""
            CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION yidi_refuse_change();
        """)
        op.execute("""
            CREATE TRIGGER filing_events_append_only BEFORE UPDATE OR DELETE ON filing_events
            FOR EACH ROW EXECUTE FUNCTION yidi_refuse_change();
        """)
    else:
        for table in ("audit_log", "filing_events"):
            for action in ("UPDATE", "DELETE"):
                op.execute(f"""
                    CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table}
                    BEGIN SELECT RAISE(ABORT, 'append-only table {table}: {action} refused'); END;
                """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS filing_events_append_only ON filing_events")
    else:
        for table in ("audit_log", "filing_events"):
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
