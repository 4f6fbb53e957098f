"""release guard days

A number presented as a caller ID within the organization's ``release_guard_days`` is
released only with force: callbacks and do-not-call requests still reach it. Existing
organizations get the default, 30 days.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('release_guard_days', sa.Integer(), nullable=False,
                                      server_default='30'))


def downgrade() -> None:
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.drop_column('release_guard_days')
