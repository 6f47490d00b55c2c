"""identity: one-time codes, and an index for the identity-check limits

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 05:00:00.000000

Hand-written, checked against autogenerate: one new table and one new index on the audit log.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "one_time_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_one_time_codes_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_codes")),
    )
    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_one_time_codes_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_one_time_codes_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_one_time_codes_created_at"), ["created_at"], unique=False)
    with op.batch_alter_table("audit_log", schema=None, recreate="never") as batch_op:
        batch_op.create_index("ix_audit_log_action_entity", ["action", "entity", "entity_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_audit_log_action_entity")
    op.drop_table("one_time_codes")
