"""Cases, visits and the append-only prediction record.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = "the prediction record is append-only"


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(80), nullable=False, unique=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("static", sa.JSON, nullable=False),
        sa.Column("timepoints", sa.JSON, nullable=False),
        sa.Column("image_summary", sa.JSON, nullable=True),
        sa.Column("image", sa.LargeBinary, nullable=True),
        sa.Column("image_sha256", sa.String(64), nullable=True),
        sa.UniqueConstraint("case_id", "number"),
    )
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("visit_id", sa.Integer, sa.ForeignKey("visits.id"), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("weights_sha256", sa.String(64), nullable=False),
        sa.Column("inputs_sha256", sa.String(64), nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
    )
    op.create_index("ix_visits_case", "visits", ["case_id"])
    op.create_index("ix_predictions_visit", "predictions", ["visit_id"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER predictions_no_{event.lower()} BEFORE {event} ON predictions "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION predictions_append_only() RETURNS trigger AS $$ BEGIN "
            f"RAISE EXCEPTION '{APPEND_ONLY}'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER predictions_append_only BEFORE UPDATE OR DELETE ON predictions "
            "FOR EACH ROW EXECUTE FUNCTION predictions_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER predictions_append_only ON predictions")
        op.execute("DROP FUNCTION predictions_append_only()")
    op.drop_table("predictions")
    op.drop_table("visits")
    op.drop_table("cases")
