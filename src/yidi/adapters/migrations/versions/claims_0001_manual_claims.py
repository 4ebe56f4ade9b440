"""零星报销 applications and attachments (claims area)

Revision ID: claims_0001
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "claims_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "manual_claims",
        sa.Column("claim_id", sa.String(length=24), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=20), nullable=False),
        sa.Column("mdtrt_id", sa.String(length=40), nullable=True),
        sa.Column("med_type", sa.String(length=4), nullable=False),
        sa.Column("dise_codg", sa.String(length=20), nullable=True),
        sa.Column("begntime", sa.Date(), nullable=False),
        sa.Column("endtime", sa.Date(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("trauma_no_third_party", sa.Boolean(), nullable=True),
        sa.Column("visit_key", sa.String(length=200), nullable=False),
        sa.Column("bank_name", sa.String(length=60), nullable=False),
        sa.Column("bank_account", sa.String(length=30), nullable=False),
        sa.Column("account_name", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("submitted_by", sa.String(length=60), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decided_by", sa.String(length=60), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("setl_id", sa.String(length=40), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("payment_ref", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["psn_no"], ["persons.psn_no"]),
        sa.PrimaryKeyConstraint("claim_id"),
    )
    op.create_index("ix_manual_claims_psn_no", "manual_claims", ["psn_no"])
    op.create_index("ix_manual_claims_insuplc_admdvs", "manual_claims", ["insuplc_admdvs"])
    op.create_index("ix_manual_claims_visit_key", "manual_claims", ["visit_key"])
    op.create_index("ix_manual_claims_status", "manual_claims", ["status"])
    op.create_table(
        "manual_claim_attachments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["manual_claims.claim_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_manual_claim_attachments_claim_id", "manual_claim_attachments", ["claim_id"])


def downgrade() -> None:
    op.drop_table("manual_claim_attachments")
    op.drop_table("manual_claims")
