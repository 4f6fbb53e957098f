"""history covering index

A contact's history (``store.calls._HISTORY``: the calls to one number, newest first) is
read on every decision. Through ``ix_calls_org_id_to_number_at`` each of those calls
was a heap row of its own, on a page of its own once the table is large (a call carries
its trace), so a decision for a contact nobody called lately read one table page per
past call from outside the cache: the cost grew with the table. The index now carries
every column the history reads, so the history is one short index range (an index-only
scan on PostgreSQL, a covering index on SQLite), a page or two whatever the table's size.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 22:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HISTORY_COLUMNS = [
    "org_id",
    "to_number",
    "at",
    "id",
    "caller_id",
    "user_key",
    "project_key",
    "outcome",
]


def upgrade() -> None:
    # Created before the old index is dropped: the history always has an index to use.
    op.create_index("ix_calls_history", "calls", _HISTORY_COLUMNS, unique=False)
    op.drop_index("ix_calls_org_id_to_number_at", table_name="calls")


def downgrade() -> None:
    op.create_index(
        "ix_calls_org_id_to_number_at", "calls", ["org_id", "to_number", "at"], unique=False
    )
    op.drop_index("ix_calls_history", table_name="calls")
