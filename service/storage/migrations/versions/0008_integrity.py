"""Who decided and on what (issues 20, 27): the access trail's tenant (access_events.owner) and what it
was about (detail); a case routed to a physician (claims.routed_to) and who is working it
(claims.assigned_to, assigned_at); what each ClaimResponse version
was scored on (claim_responses.scored: answers, as-of date, policy version), so the desk and reviews
read the snapshot instead of prefilling again.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_events") as batch:
        batch.add_column(sa.Column("owner", sa.String(256)))
        batch.add_column(sa.Column("detail", sa.String(256)))
    op.create_index("ix_access_events_owner", "access_events", ["owner"])
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("routed_to", sa.String(32)))
        batch.add_column(sa.Column("assigned_to", sa.String(128)))
        batch.add_column(sa.Column("assigned_at", sa.DateTime(timezone=True)))
    op.create_index("ix_claims_assigned_to", "claims", ["assigned_to"])
    with op.batch_alter_table("claim_responses") as batch:
        batch.add_column(sa.Column("scored", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("claim_responses") as batch:
        batch.drop_column("scored")
    op.drop_index("ix_claims_assigned_to", "claims")
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("assigned_at")
        batch.drop_column("assigned_to")
        batch.drop_column("routed_to")
    op.drop_index("ix_access_events_owner", "access_events")
    with op.batch_alter_table("access_events") as batch:
        batch.drop_column("detail")
        batch.drop_column("owner")
