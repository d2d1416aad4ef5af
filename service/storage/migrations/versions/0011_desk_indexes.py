"""Indexes for the desk at a payer's volume (issue 25): the queue's keyset order, open cases first
(claims.decision, due_at, created_at, id) and across decisions (due_at, created_at, id), and the report's
period scan, covering what it counts (created_at, payer_id, priority, decision, decided_at).

Revision ID: 0011
Revises: 0010
"""
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_claims_queue": ["decision", "due_at", "created_at", "id"],
    "ix_claims_due": ["due_at", "created_at", "id"],
    "ix_claims_received": ["created_at", "payer_id", "priority", "decision", "decided_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "claims", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, "claims")
