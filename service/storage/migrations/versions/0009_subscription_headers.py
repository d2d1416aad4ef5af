"""subscriptions.headers: a Subscription's channel.header entries ("Name: value"), sent with every
delivery (R4 Subscriptions Backport; issue 21) and never rendered back.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("headers", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("headers")
