"""Hospital interface tables (issue 18, issue 13): seen requests (replay guard), 9101/9102 files,
3203 clearing applications, 3261/3262 清分 confirmations.

Revision ID: interface_0001
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "interface_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interface_seen_requests",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("seen_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_interface_seen_requests_seen_at", "interface_seen_requests", ["seen_at"])
    op.create_table(
        "interface_files",
        sa.Column("file_qury_no", sa.String(length=30), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("dld_endtime", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("file_qury_no"),
    )
    op.create_index("ix_interface_files_fixmedins_code", "interface_files", ["fixmedins_code"])
    op.create_table(
        "interface_clearing_applications",
        sa.Column("clr_appy_evt_id", sa.String(length=30), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=20), nullable=False),
        sa.Column("clr_optins", sa.String(length=6), nullable=False),
        sa.Column("clr_type", sa.String(length=10), nullable=False),
        sa.Column("setlym", sa.String(length=6), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=False),
        sa.Column("psntime", sa.Integer(), nullable=False),
        sa.Column("medfee_sumamt", sa.BigInteger(), nullable=False),
        sa.Column("fund_appy_sum", sa.BigInteger(), nullable=False),
        sa.Column("acct_pay", sa.BigInteger(), nullable=False),
        sa.Column("cash_payamt", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("clr_appy_evt_id"),
    )
    op.create_index("ix_interface_clearing_applications_fixmedins_code", "interface_clearing_applications",
                    ["fixmedins_code"])
    op.create_table(
        "interface_clearing_confirmations",
        sa.Column("setl_id", sa.String(length=40), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=20), nullable=False),
        sa.Column("clr_ym", sa.String(length=6), nullable=False),
        sa.Column("fund_pay_sumamt", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("setl_id"),
    )
    op.create_index("ix_interface_clearing_confirmations_fixmedins_code", "interface_clearing_confirmations",
                    ["fixmedins_code"])
    op.create_index("ix_interface_clearing_confirmations_clr_ym", "interface_clearing_confirmations", ["clr_ym"])


def downgrade() -> None:
    op.drop_table("interface_clearing_confirmations")
    op.drop_table("interface_clearing_applications")
    op.drop_table("interface_files")
    op.drop_table("interface_seen_requests")
