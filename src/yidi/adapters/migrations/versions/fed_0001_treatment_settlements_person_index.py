"""treatment_settlements (a node's side of a cross-province settlement) and person_index (the hub's) — issue 16

Revision ID: fed_0001
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "fed_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "treatment_settlements",
        sa.Column("setl_id", sa.String(length=24), nullable=False),
        sa.Column("request_id", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=20), sa.ForeignKey("institutions.fixmedins_code"), nullable=False),
        sa.Column("mdtrtarea_admvs", sa.String(length=6), nullable=False),
        sa.Column("mdtrt_id", sa.String(length=40), nullable=True),
        sa.Column("insutype", sa.String(length=3), nullable=False),
        sa.Column("med_type", sa.String(length=4), nullable=False),
        sa.Column("begntime", sa.Date(), nullable=False),
        sa.Column("endtime", sa.Date(), nullable=False),
        sa.Column("setl_date", sa.Date(), nullable=False),
        sa.Column("medfee_sumamt", sa.BigInteger(), nullable=False),
        sa.Column("fund_pay_sumamt", sa.BigInteger(), nullable=False),
        sa.Column("psn_part_amt", sa.BigInteger(), nullable=False),
        sa.Column("hifp_pay", sa.BigInteger(), nullable=False),
        sa.Column("acct_pay", sa.BigInteger(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("cancelled_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("setl_id"),
        sa.UniqueConstraint("request_id"),
    )
    for column in ("psn_no", "insuplc_admdvs", "fixmedins_code", "mdtrt_id", "setl_date"):
        op.create_index(f"ix_treatment_settlements_{column}", "treatment_settlements", [column])
    op.create_table(
        "person_index",
        sa.Column("certno", sa.String(length=18), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("certno"),
        sa.UniqueConstraint("psn_no"),
    )
    op.create_index("ix_person_index_insuplc_admdvs", "person_index", ["insuplc_admdvs"])


def downgrade() -> None:
    op.drop_table("person_index")
    op.drop_table("treatment_settlements")
