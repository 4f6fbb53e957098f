"""compliance

The organization's and each project's compliance settings (SPEC 10, JSON columns; NULL:
none), where a contact lives (time zone, state, ZIP code) and the organization's
do-not-call list.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 19:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callsign.store.tables import UTCDateTime

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('compliance', sa.JSON(), nullable=True))
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('compliance', sa.JSON(), nullable=True))
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('state', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('postal_code', sa.String(length=10), nullable=True))
    op.create_table(
        'do_not_call',
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=16), nullable=False),
        sa.Column('source', sa.String(length=200), server_default='', nullable=False),
        sa.Column('added_at', UTCDateTime(), nullable=False),
        sa.Column('note', sa.String(length=500), server_default='', nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'],
                                name=op.f('fk_do_not_call_org_id_orgs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('org_id', 'number', name=op.f('pk_do_not_call')))


def downgrade() -> None:
    op.drop_table('do_not_call')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('postal_code')
        batch_op.drop_column('state')
        batch_op.drop_column('timezone')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('compliance')
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.drop_column('compliance')
