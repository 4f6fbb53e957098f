"""number health

The organization's health policy (a JSON column on orgs; NULL: the defaults), each
number's health (state, score, reasons, since, rest_until) and the history of its
changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callsign.store.tables import UTCDateTime

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('health', sa.JSON(), nullable=True))

    op.create_table(
        'number_health',
        sa.Column('number_id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('score', sa.Integer(), nullable=True),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('since', UTCDateTime(), nullable=False),
        sa.Column('window_since', UTCDateTime(), nullable=True),
        sa.Column('rest_until', UTCDateTime(), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['number_id'], ['numbers.id'],
                                name=op.f('fk_number_health_number_id_numbers'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'],
                                name=op.f('fk_number_health_org_id_orgs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('number_id', name=op.f('pk_number_health')))
    with op.batch_alter_table('number_health', schema=None) as batch_op:
        batch_op.create_index('ix_number_health_org_id_state', ['org_id', 'state'],
                              unique=False)

    op.create_table(
        'number_health_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('number_id', sa.Integer(), nullable=False),
        sa.Column('from_state', sa.String(length=10), nullable=True),
        sa.Column('to_state', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.String(length=1000), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['number_id'], ['numbers.id'],
                                name=op.f('fk_number_health_events_number_id_numbers'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'],
                                name=op.f('fk_number_health_events_org_id_orgs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_number_health_events')))
    with op.batch_alter_table('number_health_events', schema=None) as batch_op:
        batch_op.create_index('ix_number_health_events_number_id_at', ['number_id', 'at'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('number_health_events')
    op.drop_table('number_health')
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.drop_column('health')
