"""region_status (planned outage windows per insured region) and deferred_settlements (the queue) — issue 9, I2

Revision ID: ops_0001
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "ops_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "region_status",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_region_status_admdvs", "region_status", ["admdvs"])
    op.create_table(
        "deferred_settlements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mdtrt_id", sa.String(length=40), nullable=False),
        sa.Column("msgid", sa.String(length=60), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=20), nullable=False),
        sa.Column("infno", sa.String(length=4), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("result", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("msgid", name="uq_deferred_settlements_msgid"),
    )
    op.create_index("ix_deferred_settlements_mdtrt_id", "deferred_settlements", ["mdtrt_id"])
    op.create_index("ix_deferred_settlements_insuplc_admdvs", "deferred_settlements", ["insuplc_admdvs"])
    op.create_index("ix_deferred_settlements_state", "deferred_settlements", ["state"])


def downgrade() -> None:
    op.drop_table("deferred_settlements")
    op.drop_table("region_status")
