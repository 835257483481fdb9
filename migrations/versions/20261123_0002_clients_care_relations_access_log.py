"""clients care relations access log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # What an idempotent response disclosed, so that replaying it is logged too.
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disclosed', sa.JSON(), nullable=True))

    op.create_table('access_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('resource_type', sa.String(length=40), nullable=False),
    sa.Column('resource_id', sa.String(length=64), nullable=True),
    sa.Column('person_id', sa.String(length=36), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_organization_id_at'), ['organization_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_person_id_at'), ['person_id', 'at'], unique=False)

    op.create_table('clients',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    sa.Column('jwks', sa.JSON(), nullable=False),
    sa.Column('scopes', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_clients_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clients'))
    )
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clients_organization_id'), ['organization_id'], unique=False)

    op.create_table('care_relations',
    sa.Column('person_id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_care_relations_organization_id_organizations')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_care_relations_person_id_persons')),
    sa.PrimaryKeyConstraint('person_id', 'organization_id', 'source', name=op.f('pk_care_relations'))
    )
    with op.batch_alter_table('care_relations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_care_relations_organization_id_person_id'), ['organization_id', 'person_id'], unique=False)

    op.create_table('used_assertions',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('jti', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_used_assertions_client_id_clients')),
    sa.PrimaryKeyConstraint('client_id', 'jti', name=op.f('pk_used_assertions'))
    )
    with op.batch_alter_table('used_assertions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_assertions_expires_at'), ['expires_at'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # The access log is append-only (patientdatalagen, HSLF-FS 2016:40 ch. 4; Normen):
        # no update ever, and no delete of an entry younger than the five-year retention.
        op.execute(
            """
            CREATE FUNCTION access_log_append_only() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'TRUNCATE' THEN
                    RAISE EXCEPTION 'access_log is append-only: TRUNCATE refused';
                END IF;
                IF TG_OP = 'UPDATE' THEN
                    RAISE EXCEPTION 'access_log is append-only: UPDATE refused';
                END IF;
                IF OLD.at > now() - interval '5 years' THEN
                    RAISE EXCEPTION 'access_log is append-only: entries are kept five years';
                END IF;
                RETURN OLD;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log "
            "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log "
            "BEGIN SELECT RAISE(ABORT, 'access_log is append-only: UPDATE refused'); END"
        )
        op.execute(
            "CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log "
            "WHEN OLD.at > datetime('now', '-5 years') "
            "BEGIN SELECT RAISE(ABORT, 'access_log is append-only: entries are kept five years'); "
            "END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER access_log_no_truncate ON access_log")
        op.execute("DROP TRIGGER access_log_append_only ON access_log")
        op.execute("DROP FUNCTION access_log_append_only()")
    else:
        op.execute("DROP TRIGGER access_log_no_delete")
        op.execute("DROP TRIGGER access_log_no_update")

    with op.batch_alter_table('used_assertions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_assertions_expires_at'))

    op.drop_table('used_assertions')
    with op.batch_alter_table('care_relations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_care_relations_organization_id_person_id'))

    op.drop_table('care_relations')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clients_organization_id'))

    op.drop_table('clients')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_person_id_at'))
        batch_op.drop_index(batch_op.f('ix_access_log_organization_id_at'))

    op.drop_table('access_log')
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_column('disclosed')

