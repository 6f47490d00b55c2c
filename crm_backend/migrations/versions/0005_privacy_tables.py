"""privacy: the read audit (access_log) and data-subject requests (data_requests)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 10:20:00.000000

Hand-written, checked against autogenerate: two new tables, no change to existing ones.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("escalation_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("resource", sa.String(length=120), nullable=False),
        sa.Column("masked", sa.Boolean(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_access_log_agent_id_agents"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_log_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_log_escalation_id"), ["escalation_id"], unique=False)
        batch_op.create_index("ix_access_log_customer_at", ["customer_id", "at"], unique=False)

    op.create_table(
        "data_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=9), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("conversation_id", sa.String(length=100), nullable=True),
        sa.Column("proof", sa.String(length=20), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("completed_by", sa.String(length=100), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_requests")),
    )
    with op.batch_alter_table("data_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_requests_reference"), ["reference"], unique=True)
        batch_op.create_index(batch_op.f("ix_data_requests_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_requests_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_requests_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            "uq_data_requests_pending",
            ["customer_id", "kind"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )


def downgrade() -> None:
    op.drop_table("data_requests")
    op.drop_table("access_log")
