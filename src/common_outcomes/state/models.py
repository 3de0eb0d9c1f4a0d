"""The tables of the app's state. Alembic's migrations create them; a test checks that the
migrations and these models agree, so neither can drift."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    """A person. Local accounts carry an Argon2 hash; accounts from an identity provider
    (OpenID Connect, later) carry the provider's issuer and subject instead."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    provider: Mapped[str] = mapped_column(String(200), default="local")
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Membership(Base):
    """A user's role in one workspace; a user may belong to several."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "workspace"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    workspace: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))


class Session(Base):
    """A signed-in browser. Only the SHA-256 of the cookie's token is kept, so a copy of the
    database cannot be used to sign in."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SignInAttempt(Base):
    """One attempt to sign in, written (as "pending") before its password is checked, so that
    attempts made at the same moment, in any process, count against each other."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_at", "at"),
                      Index("ix_sign_in_attempts_email_at", "email", "at"),
                      Index("ix_sign_in_attempts_client_at", "client", "at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    email: Mapped[str] = mapped_column(String(320))
    client: Mapped[str] = mapped_column(String(100))
    # pending, failed, succeeded, or refused (throttled: its password was never checked)
    outcome: Mapped[str] = mapped_column(String(12))


class AuditEvent(Base):
    """Every change, by whom and when; never updated or deleted by the app."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_workspace_at", "workspace", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(320))
    workspace: Mapped[str | None] = mapped_column(String(100), nullable=True)
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(400))
    detail: Mapped[str] = mapped_column(Text, default="{}")


class Narrative(Base):
    """The story behind the curve for an indicator or priority and a period. Each save is a
    new version; earlier ones are kept."""

    __tablename__ = "narratives"
    __table_args__ = (UniqueConstraint("workspace", "subject_kind", "subject", "period",
                                       "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace: Mapped[str] = mapped_column(String(100))
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(50))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # What contributed to the curve, and the workspace's partners involved (a JSON list of ids).
    factors: Mapped[str] = mapped_column(Text, default="", server_default="")
    partners: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Action(Base):
    """Something a partner will do about an indicator or priority, with an owner and a date.
    An action is its `number` in the workspace; each change is a new `version`, earlier ones
    are kept."""

    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("workspace", "number", "version",
                                       name="uq_actions_workspace_number_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace: Mapped[str] = mapped_column(String(100))
    number: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    partner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    due: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    # Where it arose: a story behind the curve, a quarterly review (origin_ref: its number) or
    # a self-assessment (origin_ref: the round and feature).
    origin: Mapped[str] = mapped_column(String(20), default="story", server_default="story")
    origin_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Review(Base):
    """A quarterly review of a priority (or a system condition): what the data showed, kept as
    it was (`snapshot`: the published rows, JSON), what was learned and decided. Saved over
    while a draft (each save audited); signed off, it is read-only."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("workspace", "number",
                                       name="uq_reviews_workspace_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace: Mapped[str] = mapped_column(String(100))
    number: Mapped[int] = mapped_column(Integer)
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(100))
    quarter: Mapped[str] = mapped_column(String(50))
    held: Mapped[date] = mapped_column(Date)
    learned: Mapped[str] = mapped_column(Text, default="")
    decisions: Mapped[str] = mapped_column(Text, default="")
    snapshot: Mapped[str] = mapped_column(Text, default="[]")
    signed_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewGrant(Base):
    """A contributor may write the reviews of this priority (or condition); admins may write
    any."""

    __tablename__ = "review_grants"
    __table_args__ = (UniqueConstraint("user_id", "workspace", "subject_kind", "subject",
                                       name="uq_review_grants"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    workspace: Mapped[str] = mapped_column(String(100))
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(100))


class Setting(Base):
    """Instance-wide values, such as the key that signs CSRF tokens, shared by every worker."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class StateVersion(Base):
    """One row counting the changes: every change adds one in its own transaction (beside its
    audit event), so a worker process knows whether what it remembers is current by reading
    one number. A counter row rather than the newest audit id, because ids are handed out
    before commit and can become visible out of order."""

    __tablename__ = "state_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class AssessmentRound(Base):
    """A self-assessment of the system conditions for a period, numbered in the workspace.
    `features` is the maturity model as it stood when the round opened (JSON: each feature's
    id, condition, name and the level ids allowed), so a round is read as it was rated even
    after the model changes."""

    __tablename__ = "assessment_rounds"
    __table_args__ = (UniqueConstraint("workspace", "number",
                                       name="uq_assessment_rounds_workspace_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace: Mapped[str] = mapped_column(String(100))
    number: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(50))
    features: Mapped[str] = mapped_column(Text)
    opened_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RoundRespondent(Base):
    """Someone named to rate a round, for one of the workspace's partners."""

    __tablename__ = "round_respondents"
    __table_args__ = (UniqueConstraint("round_id", "user_id",
                                       name="uq_round_respondents_round_user"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("assessment_rounds.id",
                                                     ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    partner: Mapped[str] = mapped_column(String(100))


class Rating(Base):
    """A respondent's level for one feature, with their evidence (text and a JSON list of
    links); saved again as often as they like while the round is open."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("round_id", "user_id", "feature",
                                       name="uq_ratings_round_user_feature"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("assessment_rounds.id",
                                                     ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    feature: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(50))
    evidence: Mapped[str] = mapped_column(Text, default="")
    links: Mapped[str] = mapped_column(Text, default="[]")
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Moderation(Base):
    """The level a round settles on for a feature, why, and who decided it when."""

    __tablename__ = "moderations"
    __table_args__ = (UniqueConstraint("round_id", "feature",
                                       name="uq_moderations_round_feature"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("assessment_rounds.id",
                                                     ondelete="CASCADE"))
    feature: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(50))
    rationale: Mapped[str] = mapped_column(Text)
    moderator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    moderated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
