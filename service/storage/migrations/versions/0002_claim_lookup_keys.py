"""Claims: member_key and request_ref for PAS inquiry/search, request_hash for idempotency.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("member_key", sa.String(512)))
        batch.add_column(sa.Column("request_ref", sa.String(512)))
        batch.add_column(sa.Column("request_hash", sa.String(64)))
        batch.create_index("ix_claims_member_key", ["member_key"])
        batch.create_index("ix_claims_request_ref", ["request_ref"])


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.drop_index("ix_claims_request_ref")
        batch.drop_index("ix_claims_member_key")
        batch.drop_column("request_hash")
        batch.drop_column("request_ref")
        batch.drop_column("member_key")
