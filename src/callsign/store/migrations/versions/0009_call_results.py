"""call results and spam reports

Every call's result (answered, SIP code, failure class, when and from which path), an
agent's "showed as spam" reports, and the index number health reads a caller ID's calls
by (org, caller ID, time), which replaces the one on (org, caller ID).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 14:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callsign.store.tables import UTCDateTime

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answered', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('sip_code', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('failure_class', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('result_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('result_source', sa.String(length=16), nullable=True))
        batch_op.drop_index('ix_calls_org_id_caller_id')
        batch_op.create_index('ix_calls_org_id_caller_id_at', ['org_id', 'caller_id', 'at'],
                              unique=False)

    op.create_table(
        'spam_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.String(length=32), nullable=False),
        sa.Column('number', sa.String(length=16), nullable=False),
        sa.Column('reported_by', sa.String(length=64), nullable=False),
        sa.Column('note', sa.String(length=500), server_default='', nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'],
                                name=op.f('fk_spam_reports_call_id_calls'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'],
                                name=op.f('fk_spam_reports_org_id_orgs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_spam_reports')),
        sa.UniqueConstraint('call_id', name=op.f('uq_spam_reports_call_id')))
    with op.batch_alter_table('spam_reports', schema=None) as batch_op:
        batch_op.create_index('ix_spam_reports_org_id_number_at', ['org_id', 'number', 'at'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('spam_reports')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_org_id_caller_id_at')
        batch_op.create_index('ix_calls_org_id_caller_id', ['org_id', 'caller_id'],
                              unique=False)
        batch_op.drop_column('result_source')
        batch_op.drop_column('result_at')
        batch_op.drop_column('failure_class')
        batch_op.drop_column('sip_code')
        batch_op.drop_column('answered')
