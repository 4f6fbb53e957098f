"""call subject and national do-not-call registry

What an outbound call is about (a debt, a campaign reference), as the request gave it:
frequency caps per subject (SPEC 10) count a person's calls on one subject. The national
do-not-call registry's numbers, as the organization's scrub files list them.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 21:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callsign.store.tables import UTCDateTime

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HISTORY_COLUMNS = ['org_id', 'to_number', 'at', 'id', 'caller_id', 'user_key', 'project_key',
                    'outcome']


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject', sa.String(length=200), nullable=True))
    # The history reads the subject too: the covering index keeps it, so a contact's
    # history stays one index range (migration 0015).
    op.drop_index('ix_calls_history', table_name='calls')
    op.create_index('ix_calls_history', 'calls', [*_HISTORY_COLUMNS, 'subject'], unique=False)
    op.create_table(
        'dnc_registry',
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=16), nullable=False),
        sa.Column('area_code', sa.String(length=3), nullable=False),
        sa.Column('source', sa.String(length=200), server_default='', nullable=False),
        sa.Column('listed_on', sa.Date(), nullable=False),
        sa.Column('imported_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'],
                                name=op.f('fk_dnc_registry_org_id_orgs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('org_id', 'number', name=op.f('pk_dnc_registry')))
    op.create_index('ix_dnc_registry_org_id_area_code', 'dnc_registry',
                    ['org_id', 'area_code'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_dnc_registry_org_id_area_code', table_name='dnc_registry')
    op.drop_table('dnc_registry')
    op.drop_index('ix_calls_history', table_name='calls')
    op.create_index('ix_calls_history', 'calls', _HISTORY_COLUMNS, unique=False)
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('subject')
