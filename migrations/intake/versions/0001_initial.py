"""envelope store, receipts, api tokens

Revision ID: 0001
Revises: 
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('recipient_id', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_day', sa.Date(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_recipient_id'), ['recipient_id'], unique=False)

    op.create_table('envelope',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('envelope_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sealed_by', sa.String(length=16), nullable=False),
    sa.Column('header', sa.LargeBinary(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('attachment_sizes', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_envelope')),
    sa.UniqueConstraint('envelope_id', name=op.f('uq_envelope_envelope_id'))
    )
    op.create_table('envelope_recipient',
    sa.Column('envelope_seq', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('recipient_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['envelope_seq'], ['envelope.seq'], name=op.f('fk_envelope_recipient_envelope_seq_envelope'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('envelope_seq', 'key_id', name=op.f('pk_envelope_recipient'))
    )
    with op.batch_alter_table('envelope_recipient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_envelope_recipient_recipient_id'), ['recipient_id'], unique=False)

    op.create_table('receipt',
    sa.Column('receipt_hash', sa.String(length=64), nullable=False),
    sa.Column('envelope_seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['envelope_seq'], ['envelope.seq'], name=op.f('fk_receipt_envelope_seq_envelope'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('receipt_hash', name=op.f('pk_receipt'))
    )
    with op.batch_alter_table('receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipt_envelope_seq'), ['envelope_seq'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipt_envelope_seq'))

    op.drop_table('receipt')
    with op.batch_alter_table('envelope_recipient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_envelope_recipient_recipient_id'))

    op.drop_table('envelope_recipient')
    op.drop_table('envelope')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_recipient_id'))

    op.drop_table('api_token')
