"""number added at, leases

When each number was added (SPEC 9: a new number warms up over the ramp). NULL: held
before this was kept; such a number counts as old, never as warming for being new.
Each number's last presentation whose call has no result yet (one live call per number).
Leases on periodic work one process at a time may do (the health sweep of `serve`).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 21:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callsign.store.tables import UTCDateTime

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('numbers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('added_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('live_since', UTCDateTime(), nullable=True))
    op.create_table(
        'leases',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('holder', sa.String(length=64), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('done_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('leases')
    with op.batch_alter_table('numbers', schema=None) as batch_op:
        batch_op.drop_column('live_since')
        batch_op.drop_column('added_at')
