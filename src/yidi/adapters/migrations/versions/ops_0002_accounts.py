"""accounts: disabled users, encrypted issued credentials, two-person approvals of money movements, item
mappings (医保目录对照) — issue 19

Revision ID: ops_0002
Revises: ops_0001
"""
from alembic import op
import sqlalchemy as sa

revision = "ops_0002"
down_revision = "ops_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("credentials") as batch:
        batch.add_column(sa.Column("secret_encrypted", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("issued_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(), nullable=True))
    op.create_table(
        "money_approvals",
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("initiator", sa.String(length=60), nullable=False),
        sa.Column("initiated_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("approver", sa.String(length=60), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("result", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index("ix_money_approvals_status", "money_approvals", ["status"])
    op.create_table(
        "item_mappings",
        sa.Column("fixmedins_code", sa.String(length=20), nullable=False),
        sa.Column("medins_list_codg", sa.String(length=40), nullable=False),
        sa.Column("med_list_codg", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("fixmedins_code", "medins_list_codg"),
    )


def downgrade() -> None:
    op.drop_table("item_mappings")
    op.drop_index("ix_money_approvals_status", "money_approvals")
    op.drop_table("money_approvals")
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("issued_at")
        batch.drop_column("secret_encrypted")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("active")
