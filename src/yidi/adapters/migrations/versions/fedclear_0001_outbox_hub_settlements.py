"""event_outbox (every node) and hub_settlements / hub_events (the hub's 清分 from both sides) — issue 17

Revision ID: fedclear_0001
Revises: fed_0001
"""
from alembic import op
import sqlalchemy as sa

revision = "fedclear_0001"
down_revision = "fed_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_event_outbox_sent_at", "event_outbox", ["sent_at"])
    op.create_table(
        "hub_settlements",
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("setl_id", sa.String(length=24), nullable=False),
        sa.Column("msgid", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("mdtrtarea_admvs", sa.String(length=6), nullable=False),
        sa.Column("insured_province", sa.String(length=6), nullable=False),
        sa.Column("treatment_province", sa.String(length=6), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=20), nullable=False),
        sa.Column("setl_date", sa.Date(), nullable=False),
        sa.Column("cancelled_on", sa.Date(), nullable=True),
        sa.Column("medfee_sumamt", sa.BigInteger(), nullable=False),
        sa.Column("fund_pay_sumamt", sa.BigInteger(), nullable=False),
        sa.Column("acct_pay", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("side", "setl_id"),
    )
    for column in ("insured_province", "treatment_province", "setl_date", "cancelled_on"):
        op.create_index(f"ix_hub_settlements_{column}", "hub_settlements", [column])
    op.create_table(
        "hub_events",
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("stream_seq", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )


def downgrade() -> None:
    op.drop_table("hub_events")
    op.drop_table("hub_settlements")
    op.drop_table("event_outbox")
