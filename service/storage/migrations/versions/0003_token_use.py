"""token_use: CDS Hooks JWT ids seen, so a replay is refused by every worker, not only one.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_use",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_token_use_expires_at", "token_use", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_token_use_expires_at", "token_use")
    op.drop_table("token_use")
