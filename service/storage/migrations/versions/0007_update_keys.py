"""claim_responses.source_key: the idempotency key of the claim update that made a version, so a
retried update replays that version instead of adding another (PAS claim-update).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claim_responses") as batch:
        batch.add_column(sa.Column("source_key", sa.String(512)))
    op.create_index("ix_claim_responses_source_key", "claim_responses", ["source_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_claim_responses_source_key", "claim_responses")
    with op.batch_alter_table("claim_responses") as batch:
        batch.drop_column("source_key")
