"""The Carrefour's first schema: records and runs, entities, accounts, moderation, profiles.

Revision ID: 0001
Revises:
Created: 2026-12-04

The types are spelled here rather than imported from the models, so that this script
keeps creating the same tables whatever the models become.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _instant(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _account(name: str, ondelete: str = "SET NULL", nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Integer(), sa.ForeignKey("accounts.id", ondelete=ondelete),
                     nullable=nullable)


def _record(name: str) -> sa.Column:
    return sa.Column(name, sa.Text(), sa.ForeignKey("records.id", ondelete="CASCADE"),
                     nullable=False)


def upgrade() -> None:
    """Create every table of the store."""
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        _instant("created"))
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        _account("account_id", ondelete="CASCADE", nullable=False),
        _instant("created"), _instant("expires"), _instant("revoked", nullable=True))
    op.create_index("ix_sessions_account_id", "sessions", ["account_id"])
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        _instant("window_start"), _instant("locked_until", nullable=True))

    text_columns = ("title", "summary", "description")
    lists = ("territories", "domaines", "publics", "actions")
    op.create_table(
        "records",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in text_columns),
        sa.Column("porteur", sa.Text()),
        sa.Column("siret", sa.String(14)),
        sa.Column("siren", sa.String(9)),
        sa.Column("address", sa.Text()),
        sa.Column("postcode", sa.String(10)),
        sa.Column("commune", sa.String(10)),
        sa.Column("commune_name", sa.Text()),
        sa.Column("departement", sa.String(3)),
        sa.Column("lat", sa.Float()),
        sa.Column("lon", sa.Float()),
        sa.Column("qpv", sa.String(20)),
        *(sa.Column(name, _json(), nullable=False) for name in lists),
        sa.Column("programme", sa.Text()),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("url", sa.Text()),
        sa.Column("source_url", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=False),
        _instant("first_seen"), _instant("last_seen"), _instant("updated"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("raw", _json(), nullable=False),
        sa.Column("content_hash", sa.String(40), nullable=False),
        _account("submitted_by"),
        sa.Column("status_reason", sa.Text()))
    for column in ("siren", "commune", "departement", "status", "submitted_by"):
        op.create_index(f"ix_records_{column}", "records", [column])
    op.create_index("ix_records_source_status", "records", ["source", "status"])

    op.create_table(
        "harvest_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(100), nullable=False),
        _instant("started", nullable=True), _instant("finished", nullable=True),
        _instant("applied"),
        *(sa.Column(name, sa.Integer(), nullable=False)
          for name in ("records", "new", "updated", "unchanged", "gone", "failed")),
        sa.Column("failures", _json(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("alert", sa.Text()))
    op.create_index("ix_harvest_runs_source", "harvest_runs", ["source"])

    op.create_table(
        "entities",
        sa.Column("id", sa.String(64), primary_key=True),
        _instant("created"))
    op.create_table(
        "entity_members",
        sa.Column("record_id", sa.Text(), sa.ForeignKey("records.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("entity_id", sa.String(64), sa.ForeignKey("entities.id"), nullable=False),
        _instant("since"))
    op.create_index("ix_entity_members_entity_id", "entity_members", ["entity_id"])
    op.create_table(
        "merge_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        _instant("at"),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("entity_ids", _json(), nullable=False),
        sa.Column("record_ids", _json(), nullable=False),
        _account("reviewer_id"),
        sa.Column("note", sa.Text(), nullable=False))
    op.create_index("ix_merge_events_at", "merge_events", ["at"])
    op.create_table(
        "review_pairs",
        sa.Column("id", sa.Integer(), primary_key=True),
        _record("record_a"), _record("record_b"),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("decision", sa.String(10)),
        _account("reviewer_id"),
        _instant("queued"), _instant("decided_at", nullable=True),
        sa.UniqueConstraint("record_a", "record_b", name="uq_review_pairs_a_b"),
        sa.CheckConstraint("record_a < record_b", name=op.f("ck_review_pairs_sorted")))
    op.create_index("ix_review_pairs_status", "review_pairs", ["status"])

    op.create_table(
        "edit_proposals",
        sa.Column("id", sa.Integer(), primary_key=True),
        _record("record_id"),
        _account("author_id"),
        _instant("created"),
        sa.Column("changes", _json(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        _account("decided_by"),
        _instant("decided_at", nullable=True),
        sa.Column("reason", sa.Text()))
    for column in ("record_id", "author_id", "status"):
        op.create_index(f"ix_edit_proposals_{column}", "edit_proposals", [column])
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        _record("record_id"),
        _account("reporter_id"),
        sa.Column("reason", sa.Text(), nullable=False),
        _instant("created"),
        sa.Column("status", sa.String(10), nullable=False))
    op.create_index("ix_reports_record_id", "reports", ["record_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        _instant("at"),
        _account("actor_id"),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("details", _json(), nullable=False))
    for column in ("at", "action", "target"):
        op.create_index(f"ix_audit_log_{column}", "audit_log", [column])
    op.create_table(
        "profiles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        *(sa.Column(name, _json(), nullable=False)
          for name in ("domaines", "territories", "supports")),
        sa.Column("url", sa.Text()),
        _account("account_id"),
        _instant("created"), _instant("updated"))
    for column in ("kind", "account_id"):
        op.create_index(f"ix_profiles_{column}", "profiles", [column])


def downgrade() -> None:
    """Drop every table of the store (what users wrote is lost: back it up first)."""
    for table in ("profiles", "audit_log", "reports", "edit_proposals", "review_pairs",
                  "merge_events", "entity_members", "entities", "harvest_runs", "records",
                  "login_throttle", "sessions", "accounts"):
        op.drop_table(table)
