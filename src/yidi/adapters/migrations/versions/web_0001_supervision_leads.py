"""supervision leads and 协查 investigations (web area)

Revision ID: web_0001
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "web_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supervision_leads",
        sa.Column("lead_id", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("rule_ids", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=True),
        sa.Column("fixmedins_code", sa.String(length=20), nullable=True),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("mdtrtarea_admvs", sa.String(length=6), nullable=False),
        sa.Column("setl_ids", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("found_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("lead_id"),
        sa.UniqueConstraint("fingerprint"),
    )
    op.create_index("ix_supervision_leads_rule", "supervision_leads", ["rule"])
    op.create_index("ix_supervision_leads_psn_no", "supervision_leads", ["psn_no"])
    op.create_index("ix_supervision_leads_insuplc_admdvs", "supervision_leads", ["insuplc_admdvs"])
    op.create_index("ix_supervision_leads_mdtrtarea_admvs", "supervision_leads", ["mdtrtarea_admvs"])
    op.create_index("ix_supervision_leads_status", "supervision_leads", ["status"])
    op.create_table(
        "supervision_investigations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=60), nullable=False),
        sa.Column("requesting_admdvs", sa.String(length=6), nullable=False),
        sa.Column("assigned_admdvs", sa.String(length=6), nullable=False),
        sa.Column("assigned_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=False),
        sa.Column("recovered_fen", sa.BigInteger(), nullable=False),
        sa.Column("recovery_setl_id", sa.String(length=40), nullable=True),
        sa.Column("closed_by", sa.String(length=60), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["supervision_leads.lead_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_supervision_investigations_lead_id", "supervision_investigations", ["lead_id"])
    op.create_index("ix_supervision_investigations_assigned_admdvs", "supervision_investigations",
                    ["assigned_admdvs"])


def downgrade() -> None:
    op.drop_table("supervision_investigations")
    op.drop_table("supervision_leads")
