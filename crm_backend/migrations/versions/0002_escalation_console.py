"""escalation console: escalation fields, message agent/event key/delivery, relay cursor

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00.000000

Hand-written, checked against autogenerate. Portable: on SQLite the unique keys are unique *indexes* (created
without copying the table), only escalation_messages is rebuilt (batch mode) for its new foreign key; on
PostgreSQL every step is a plain ALTER. ``delivered`` gets server default '1' so existing rows read as delivered.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "relay_cursor",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_relay_cursor")),
    )
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("request_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("suggested_action", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("handed_back_at", sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_escalations_request_key"), ["request_key"], unique=True)

    with op.batch_alter_table("escalation_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("event_key", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("delivered", sa.Boolean(), server_default="1", nullable=False))
        batch_op.create_foreign_key(
            batch_op.f("fk_escalation_messages_agent_id_agents"), "agents", ["agent_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_escalation_messages_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_escalation_messages_event_key"), ["event_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("escalation_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalation_messages_event_key"))
        batch_op.drop_index(batch_op.f("ix_escalation_messages_agent_id"))
        batch_op.drop_constraint(batch_op.f("fk_escalation_messages_agent_id_agents"), type_="foreignkey")
        batch_op.drop_column("delivered")
        batch_op.drop_column("event_key")
        batch_op.drop_column("agent_id")

    # recreate="never": rebuilding escalations on SQLite would trip the foreign keys of its messages; SQLite >= 3.35
    # drops columns in place.
    with op.batch_alter_table("escalations", schema=None, recreate="never") as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalations_request_key"))
        batch_op.drop_column("handed_back_at")
        batch_op.drop_column("suggested_action")
        batch_op.drop_column("summary")
        batch_op.drop_column("request_key")
        batch_op.drop_column("channel")

    op.drop_table("relay_cursor")
