"""`State`: the one object the app's state is read and changed through. Every change is
written with its audit event in the same transaction, so neither can exist without the other."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from common_outcomes.errors import UserError
from common_outcomes.state.accounts import (
    HASHER,
    Account,
    Role,
    SignInRefused,
    hash_password,
    normal_email,
    password_matches,
)
from common_outcomes.state.database import migrate, open_engine
from common_outcomes.state.limits import Recent, SignInLimits, in_words, wait
from common_outcomes.state.models import (
    Action,
    AuditEvent,
    Membership,
    Narrative,
    Review,
    ReviewGrant,
    Session,
    Setting,
    SignInAttempt,
    StateVersion,
    User,
)
from common_outcomes.state.rounds import Invalid, RoundsStore
from common_outcomes.state.versions import CHANNEL, Versions

SESSION_LIFETIME = timedelta(hours=8)
MAX_REMEMBERED = 10_000
# What became of a sign-in attempt (SignInAttempt.outcome); see state/limits.py.
PENDING, FAILED, SUCCEEDED, REFUSED = "pending", "failed", "succeeded", "refused"
SUBJECT_KINDS = ("indicator", "priority", "condition")
REVIEW_KINDS = ("priority", "condition")
# Where an action arose (Action.origin).
ORIGINS = ("story", "review", "assessment")
OPEN_STATUSES = ("open", "in progress")
MAX_NARRATIVE = 20_000
MAX_FACTORS = 5_000
MAX_ACTION = 2_000
MAX_OWNER = 200
ActionStatus = Literal["open", "in progress", "done", "dropped"]
ACTION_STATUSES: tuple[str, ...] = get_args(ActionStatus)


@dataclass(frozen=True)
class Event:
    at: datetime
    actor: str
    workspace: str | None
    action: str
    target: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class NarrativeVersion:
    subject_kind: str
    subject: str
    period: str
    version: int
    text: str
    factors: str
    partners: tuple[str, ...]
    author: str
    created_at: datetime


@dataclass(frozen=True)
class ActionFields:
    """What a contributor writes about an action; each change saves all of it again."""

    period: str
    description: str
    owner: str
    partner: str | None
    due: date | None
    status: str


@dataclass(frozen=True)
class ActionVersion:
    number: int
    version: int
    subject_kind: str
    subject: str
    fields: ActionFields
    author: str
    created_at: datetime
    origin: str = "story"
    origin_ref: str | None = None

    def overdue(self, today: date) -> bool:
        """Not done (nor dropped) by its due day."""
        due = self.fields.due
        return due is not None and due < today and self.fields.status in OPEN_STATUSES


@dataclass(frozen=True)
class ReviewFields:
    """What a review is about and what its writers say; each save writes all of it again."""

    subject_kind: str
    subject: str
    quarter: str
    held: date
    learned: str = ""
    decisions: str = ""


@dataclass(frozen=True)
class ReviewRecord:
    """A quarterly review: its fields, the published rows it saw (as they were when it was
    opened), who wrote it, and its sign-off."""

    number: int
    fields: ReviewFields
    snapshot: tuple[dict[str, Any], ...]
    author: str
    created_at: datetime
    signed_by: str | None
    signed_at: datetime | None

    @property
    def signed(self) -> bool:
        return self.signed_at is not None


@dataclass(frozen=True)
class Story:
    """What contributors have written about a subject: every narrative version, newest first,
    and the current version of each action, by number."""

    narratives: list[NarrativeVersion]
    actions: list[ActionVersion]


@dataclass(frozen=True)
class _Written:
    """A workspace's narratives and current actions as read at a state version."""

    version: int
    narratives: list[NarrativeVersion]
    actions: list[ActionVersion]




def now() -> datetime:
    return datetime.now(UTC)


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class State(RoundsStore):
    def __init__(self, engine: Engine, limits: SignInLimits | None = None) -> None:
        self.engine = engine
        self.limits = limits or SignInLimits()
        self._db = sessionmaker(engine, expire_on_commit=False)
        # Reads outside a transaction: PostgreSQL's autocommit saves the BEGIN and COMMIT
        # round trips; SQLite's driver begins none for a read anyway, and switching its
        # isolation level on every checkout cost more than the read.
        self._reader = sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql" else engine, expire_on_commit=False)
        # What this process remembers, each with the state version it was read at; see
        # account() and story(). Session token's hash -> (version, account or None, expiry).
        self._accounts: dict[str, tuple[int, Account | None, datetime]] = {}
        self._written: dict[str, _Written] = {}
        self._versions = Versions(engine)

    @classmethod
    def open(cls, url: str, limits: SignInLimits | None = None) -> State:
        engine = open_engine(url)
        migrate(engine)
        return cls(engine, limits)

    def close(self) -> None:
        self._versions.close()
        self.engine.dispose()

    @contextmanager
    def _transaction(self) -> Iterator[Db]:
        with self._db.begin() as db:
            yield db
        version = db.info.get("version")
        if version is not None:  # committed: this process knows it before any notification
            self._versions.saw(version)

    @contextmanager
    def _reading(self) -> Iterator[Db]:
        """For a read of one statement's worth: autocommit, so no BEGIN and COMMIT round
        trips (on PostgreSQL they were a third of a page's time under load)."""
        with self._reader() as db:
            yield db

    def _audit(self, db: Db, actor: str, action: str, target: str,
               workspace: str | None = None, **detail: Any) -> None:
        """Record a change, and count it in the state version (same transaction), which tells
        every process that what it remembers may be stale. Every change comes through here."""
        db.add(AuditEvent(at=now(), actor=actor, workspace=workspace, action=action,
                          target=target, detail=json.dumps(detail, sort_keys=True, default=str)))
        version = db.execute(update(StateVersion).where(StateVersion.id == 1)
                             .values(version=StateVersion.version + 1)
                             .returning(StateVersion.version)).scalar_one()
        if not self._versions.local:  # sent to every listening process when this commits
            db.execute(select(func.pg_notify(CHANNEL, str(version))))
        db.info["version"] = version

    def committed(self) -> int:
        """The newest version this process has committed (0 if none): a browser that made a
        change carries it, so that any worker it asks next shows at least that."""
        return self._versions.committed

    def known_version(self, seen: int = 0) -> int | None:
        """The state version, if it can be known without a round trip to a database server
        (state/versions.py): read in-process from SQLite, or announced by PostgreSQL."""
        return self._versions.known(seen)

    def version(self, seen: int = 0) -> int:
        """The number of changes made so far, by any process (at least `seen`, a version a
        browser has seen)."""
        return self._versions.current(seen)

    # Accounts -------------------------------------------------------------------------------

    def add_user(self, email: str, name: str, password: str | None, workspace: str,
                 role: Role, actor: str) -> None:
        """A new account with a role in one workspace: with a password, or without one for
        someone who signs in only through the identity provider (linked on first sign-in)."""
        email = normal_email(email)
        hashed = None if password is None else hash_password(password)
        with self._transaction() as db:
            if db.scalar(select(User.id).where(User.email == email)) is not None:
                raise UserError(f"There is already an account for {email}; grant it a role "
                                "instead of adding it again.")
            user = User(email=email, name=name.strip() or email, password_hash=hashed,
                        provider="local", active=True, created_at=now())
            db.add(user)
            db.flush()
            db.add(Membership(user_id=user.id, workspace=workspace, role=role.value))
            self._audit(db, actor, "user.add", email, workspace, role=role.value)

    def grant(self, email: str, workspace: str, role: Role, actor: str) -> None:
        """Give an existing account a role in a workspace (replacing any it had there)."""
        email = normal_email(email)
        with self._transaction() as db:
            user_id = db.scalar(select(User.id).where(User.email == email))
            if user_id is None:
                raise UserError(f"There is no account for {email}; add it first.")
            found = db.scalar(select(Membership).where(Membership.user_id == user_id,
                                                       Membership.workspace == workspace))
            if found is None:
                db.add(Membership(user_id=user_id, workspace=workspace, role=role.value))
            else:
                found.role = role.value
            self._audit(db, actor, "user.grant", email, workspace, role=role.value)

    def set_password(self, email: str, password: str, actor: str) -> None:
        """Replace an account's password (it keeps its roles); audited."""
        email = normal_email(email)
        hashed = hash_password(password)
        with self._transaction() as db:
            user = db.scalar(select(User).where(User.email == email))
            if user is None:
                raise UserError(f"There is no account for {email}; add it first.")
            user.password_hash = hashed
            self._audit(db, actor, "user.password", email)

    def account_of(self, email: str) -> Account | None:
        """An active account by email, with its roles (for work done on someone's behalf
        outside a session, such as `outcomes demo`)."""
        with self._reading() as db:
            row = db.scalar(select(User).where(User.email == normal_email(email),
                                               User.active.is_(True)))
            if row is None:
                return None
            roles = {m.workspace: Role(m.role) for m in db.scalars(
                select(Membership).where(Membership.user_id == row.id))}
            return Account(id=row.id, email=row.email, name=row.name, roles=roles)

    def has_user(self, email: str) -> bool:
        with self._reading() as db:
            return db.scalar(select(User.id).where(User.email == normal_email(email))) is not None

    def sign_in(self, email: str, password: str, client: str) -> str:
        """A new session's token for the cookie, or SignInRefused.

        Whether to check the password is decided one attempt at a time, in every process: the
        deciding transaction first takes the state version row's write lock (PostgreSQL's row
        lock; SQLite's one writer), then counts the failed and pending attempts and records
        this one, so of attempts made at once exactly the free allowance are checked, however
        their requests interleave. The lock is held for two short statements, never during
        the password check."""
        email = email.strip().lower()
        with self._transaction() as db:
            db.execute(update(StateVersion).where(StateVersion.id == 1)
                       .values(version=StateVersion.version))
            waiting = self._waiting(db, email, client)
            attempt = SignInAttempt(at=now(), email=email, client=client,
                                    outcome=REFUSED if waiting > timedelta(0) else PENDING)
            db.add(attempt)
            if waiting > timedelta(0):
                self._audit(db, email, "sign-in.throttled", email, client=client)
        if waiting > timedelta(0):
            raise SignInRefused("There have been too many attempts to sign in; wait "
                                f"{in_words(waiting)} and try again.",
                                retry_after=waiting)
        with self._reading() as db:
            user = db.scalar(select(User).where(User.email == email, User.active.is_(True)))
        # The slow part (Argon2) outside any transaction.
        ok = password_matches(user.password_hash if user else None, password)
        with self._transaction() as db:
            self._attempted(db, attempt.id, SUCCEEDED if ok and user else FAILED)
            if not ok or user is None:
                self._audit(db, email, "sign-in.failed", email, client=client)
            else:
                if user.password_hash and HASHER.check_needs_rehash(user.password_hash):
                    db.execute(update(User).where(User.id == user.id)
                               .values(password_hash=HASHER.hash(password)))
                token = self._new_session(db, user.id)
                self._audit(db, email, "sign-in", email, client=client)
        # Raised after the commit: a failure must count towards the limit.
        if not ok or user is None:
            raise SignInRefused("Enter a correct email address and password.")
        return token

    def _attempted(self, db: Db, attempt: int, outcome: str) -> None:
        db.execute(update(SignInAttempt).where(SignInAttempt.id == attempt)
                   .values(outcome=outcome))

    def _waiting(self, db: Db, email: str, client: str) -> timedelta:
        """How long an attempt must wait, from the failed and pending attempts before it
        (see state/limits.py); read in the deciding transaction."""
        at = now()
        mine, theirs = SignInAttempt.email == email, SignInAttempt.client == client
        counted = (SignInAttempt.at >= at - self.limits.window,
                   SignInAttempt.outcome.in_((PENDING, FAILED)), mine | theirs)
        row = db.execute(select(
            func.count().filter(mine), func.max(SignInAttempt.at).filter(mine),
            func.count().filter(mine & theirs), func.count().filter(theirs),
            func.max(SignInAttempt.at).filter(theirs)).where(*counted)).one()
        recent = Recent(int(row[0]), _maybe_aware(row[1]), int(row[2]), int(row[3]),
                        _maybe_aware(row[4]))
        return wait(self.limits, recent, at)

    def _new_session(self, db: Db, user_id: int) -> str:
        token = secrets.token_urlsafe(32)
        db.add(Session(id=_token_id(token), user_id=user_id, created_at=now(),
                       expires_at=now() + SESSION_LIFETIME))
        db.execute(delete(Session).where(Session.expires_at < now()))
        return token

    def sign_in_external(self, issuer: str, subject: str, email: str | None,
                         client: str) -> str:
        """A new session's token for someone an identity provider (OpenID Connect) has
        vouched for: the account that provider and subject belong to, or else, the first
        time, the account with their email that no provider holds yet, which is then linked
        to them for good. Accounts are only ever added by an administrator."""
        with self._transaction() as db:
            user = db.scalar(select(User).where(User.provider == issuer,
                                                User.subject == subject))
            if user is None and email:
                user = db.scalar(select(User).where(User.email == email.strip().lower(),
                                                    User.subject.is_(None)))
                if user is not None:
                    user.provider, user.subject = issuer, subject
                    self._audit(db, user.email, "user.link", user.email, issuer=issuer)
            if user is not None and user.active:
                token = self._new_session(db, user.id)
                self._audit(db, user.email, "sign-in", user.email, client=client,
                            provider=issuer)
                return token
            self._audit(db, email or subject, "sign-in.failed", email or subject,
                        client=client, provider=issuer)
        raise SignInRefused(f"There is no account here for {email or 'you'}; ask an "
                            "administrator to add you.")

    def remembered(self, token: str | None, version: int) -> tuple[bool, Account | None]:
        """(True, what `account` would give) when that is known at this version without a
        read; (False, None) when it must be read."""
        if not token:
            return True, None
        found = self._accounts.get(_token_id(token))
        if found is not None and found[0] == version and now() < found[2]:
            return True, found[1]
        return False, None

    def account(self, token: str | None, version: int | None = None) -> Account | None:
        """The account a session cookie belongs to, if the session is live. Remembered while
        the state version stays the same (a sign-out, a role granted or an account changed in
        any worker process changes it), so a busy server reads one number per request rather
        than the session, user and roles. `version`: one this request has read already."""
        if not token:
            return None
        key = _token_id(token)
        version = self.version() if version is None else version
        found = self._accounts.get(key)
        if found is not None and found[0] == version and now() < found[2]:
            return found[1]
        account, expires = self._account(key)
        if len(self._accounts) > MAX_REMEMBERED:
            self._accounts.clear()
        self._accounts[key] = (version, account, expires)
        return account

    def _account(self, key: str) -> tuple[Account | None, datetime]:
        """The live session's account and when the session expires (or None, and the end of
        time: only a change, which moves the version on, can make an unknown token live)."""
        with self._reading() as db:
            found = db.execute(
                select(User, Session.expires_at).join(Session, Session.user_id == User.id)
                .where(Session.id == key, Session.expires_at > now(),
                       User.active.is_(True))).one_or_none()
            if found is None:
                return None, datetime.max.replace(tzinfo=UTC)
            row, expires = found
            roles = {m.workspace: Role(m.role) for m in db.scalars(
                select(Membership).where(Membership.user_id == row.id))}
            return Account(id=row.id, email=row.email, name=row.name, roles=roles), _aware(
                expires)

    def sign_out(self, token: str, account: Account) -> None:
        with self._transaction() as db:
            db.execute(delete(Session).where(Session.id == _token_id(token)))
            self._audit(db, account.email, "sign-out", account.email)

    # Audit ----------------------------------------------------------------------------------

    def events(self, workspace: str | None = None, limit: int = 100) -> list[Event]:
        """The newest events first; only a workspace's own when one is named."""
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if workspace is not None:
            query = query.where(AuditEvent.workspace == workspace)
        with self._reading() as db:
            return [Event(e.at, e.actor, e.workspace, e.action, e.target, json.loads(e.detail))
                    for e in db.scalars(query)]

    # Narratives -----------------------------------------------------------------------------

    def save_narrative(self, account: Account, workspace: str, subject_kind: str, subject: str,
                       period: str, text: str, factors: str = "",
                       partners: tuple[str, ...] = ()) -> NarrativeVersion:
        """A new version of the story behind the curve for a subject and period: the
        narrative, what contributed, and the partners involved."""
        _may_write(account, workspace, subject_kind)
        text, factors = text.strip(), factors.strip()
        for problem in narrative_problems(text, factors):
            raise problem
        with self._transaction() as db:
            same = (Narrative.workspace == workspace, Narrative.subject_kind == subject_kind,
                    Narrative.subject == subject, Narrative.period == period)
            version = (db.scalar(select(func.max(Narrative.version)).where(*same)) or 0) + 1
            row = Narrative(workspace=workspace, subject_kind=subject_kind, subject=subject,
                            period=period, version=version, text=text, factors=factors,
                            partners=json.dumps(sorted(set(partners))), author_id=account.id,
                            created_at=now())
            db.add(row)
            self._audit(db, account.email, "narrative.save",
                        f"{subject_kind}/{subject}/{period}", workspace, version=version)
            return _narrative(row, account.email)

    def narratives(self, workspace: str, subject_kind: str | None = None,
                   subject: str | None = None, period: str | None = None
                   ) -> list[NarrativeVersion]:
        """Every version for a subject (or every subject), newest first."""
        return [n for n in self._written_in(workspace).narratives
                if _about(n, subject_kind, subject) and period in (None, n.period)]

    def story(self, workspace: str, subject_kind: str, subject: str,
              version: int | None = None) -> Story:
        """A subject's narratives and actions, as of one reading of the state version
        (`version`: one this request has read already)."""
        written = self._written_in(workspace, version)
        return Story([n for n in written.narratives if _about(n, subject_kind, subject)],
                     [a for a in written.actions if _about(a, subject_kind, subject)])

    def _written_in(self, workspace: str, version: int | None = None) -> _Written:
        """A workspace's narratives and current actions, read again only when the state
        version has moved: pages under load ask for one number, not two joins. The version is
        read first, so a change committed meanwhile is read again next time, never missed."""
        version = self.version() if version is None else version
        found = self._written.get(workspace)
        if found is not None and found.version == version:
            return found
        narratives = (select(Narrative, User.email).join(User, User.id == Narrative.author_id)
                      .where(Narrative.workspace == workspace)
                      .order_by(Narrative.created_at.desc(), Narrative.id.desc()))
        newest = (select(Action.number, func.max(Action.version).label("version"))
                  .where(Action.workspace == workspace).group_by(Action.number).subquery())
        actions = (select(Action, User.email).join(User, User.id == Action.author_id)
                   .join(newest, (Action.number == newest.c.number)
                         & (Action.version == newest.c.version))
                   .where(Action.workspace == workspace).order_by(Action.number))
        with self._reading() as db:
            found = _Written(version, [_narrative(n, email) for n, email in db.execute(narratives)],
                             [_action(a, email) for a, email in db.execute(actions)])
        self._written[workspace] = found
        return found

    # Actions --------------------------------------------------------------------------------

    def add_action(self, account: Account, workspace: str, subject_kind: str, subject: str,
                   fields: ActionFields, origin: str = "story",
                   origin_ref: str | None = None) -> ActionVersion:
        """A new action (version 1), numbered in the workspace, with where it arose (a story
        behind the curve, a review, a self-assessment)."""
        _may_write(account, workspace, subject_kind)
        if origin not in ORIGINS:
            raise ValueError(f"unknown origin {origin}")
        fields = _checked(fields)
        with self._transaction() as db:
            number = (db.scalar(select(func.max(Action.number))
                                .where(Action.workspace == workspace)) or 0) + 1
            return self._write_action(db, account, workspace, subject_kind, subject, number, 1,
                                      fields, origin, origin_ref)

    def change_action(self, account: Account, workspace: str, number: int,
                      fields: ActionFields) -> ActionVersion:
        """A new version of an existing action, for the same subject."""
        current = self.action(workspace, number)
        if current is None:
            raise LookupError(f"no action {number} in {workspace}")
        _may_write(account, workspace, current[0].subject_kind)
        fields = _checked(fields)
        with self._transaction() as db:
            return self._write_action(db, account, workspace, current[0].subject_kind,
                                      current[0].subject, number, current[0].version + 1,
                                      fields, current[0].origin, current[0].origin_ref)

    def _write_action(self, db: Db, account: Account, workspace: str, subject_kind: str,
                      subject: str, number: int, version: int,
                      fields: ActionFields, origin: str,
                      origin_ref: str | None) -> ActionVersion:
        row = Action(workspace=workspace, number=number, version=version,
                     subject_kind=subject_kind, subject=subject, period=fields.period,
                     description=fields.description, owner=fields.owner,
                     partner=fields.partner, due=fields.due, status=fields.status,
                     origin=origin, origin_ref=origin_ref, author_id=account.id,
                     created_at=now())
        db.add(row)
        try:
            db.flush()
        except IntegrityError:
            # Another writer took the number or version first: one sentence, not a 500.
            raise Invalid("description", "Someone else saved this action at the same "
                          "moment; try again") from None
        self._audit(db, account.email, "action.add" if version == 1 else "action.change",
                    f"{subject_kind}/{subject}/action-{number}", workspace, version=version,
                    status=fields.status)
        return _action(row, account.email)

    def actions(self, workspace: str, subject_kind: str | None = None,
                subject: str | None = None, version: int | None = None
                ) -> list[ActionVersion]:
        """The current version of every action (or a subject's), by number (`version`: a
        state version this request has read already)."""
        return [a for a in self._written_in(workspace, version).actions
                if _about(a, subject_kind, subject)]

    def action(self, workspace: str, number: int) -> list[ActionVersion] | None:
        """Every version of one action, newest first, or None when there is no such action."""
        query = (select(Action, User.email).join(User, User.id == Action.author_id)
                 .where(Action.workspace == workspace, Action.number == number)
                 .order_by(Action.version.desc()))
        with self._reading() as db:
            found = [_action(a, email) for a, email in db.execute(query)]
        return found or None

    # Quarterly reviews ----------------------------------------------------------------------

    def grant_review(self, email: str, workspace: str, subject_kind: str, subject: str,
                     actor: str) -> None:
        """Let a contributor write the reviews of one priority (or condition)."""
        email = normal_email(email)
        if subject_kind not in REVIEW_KINDS:
            raise UserError(f"Reviews are of a {' or a '.join(REVIEW_KINDS)}, not a "
                            f"{subject_kind}.")
        with self._transaction() as db:
            user = db.scalar(select(User).where(User.email == email))
            role = None if user is None else db.scalar(select(Membership.role).where(
                Membership.user_id == user.id, Membership.workspace == workspace))
            if user is None or role is None or not Role(role).allows(Role.CONTRIBUTOR):
                raise UserError(f"{email} is not a contributor in {workspace}; grant them "
                                "that role first (outcomes users grant --role contributor).")
            if db.scalar(select(ReviewGrant.id).where(
                    ReviewGrant.user_id == user.id, ReviewGrant.workspace == workspace,
                    ReviewGrant.subject_kind == subject_kind,
                    ReviewGrant.subject == subject)) is None:
                db.add(ReviewGrant(user_id=user.id, workspace=workspace,
                                   subject_kind=subject_kind, subject=subject))
            self._audit(db, actor, "review.grant", f"{subject_kind}/{subject}", workspace,
                        email=email)

    def may_review(self, account: Account, workspace: str, subject_kind: str,
                   subject: str) -> bool:
        """Admins write any review; contributors those of the subjects they are granted."""
        if account.may(workspace, Role.ADMIN):
            return True
        if not account.may(workspace, Role.CONTRIBUTOR):
            return False
        with self._reading() as db:
            return db.scalar(select(ReviewGrant.id).where(
                ReviewGrant.user_id == account.id, ReviewGrant.workspace == workspace,
                ReviewGrant.subject_kind == subject_kind,
                ReviewGrant.subject == subject)) is not None

    def add_review(self, account: Account, workspace: str, fields: ReviewFields,
                   snapshot: list[dict[str, Any]]) -> ReviewRecord:
        """A new review (a draft), numbered in the workspace, keeping the published rows it
        saw as they were."""
        fields = self._reviewable(account, workspace, fields)
        with self._transaction() as db:
            number = (db.scalar(select(func.max(Review.number))
                                .where(Review.workspace == workspace)) or 0) + 1
            row = Review(workspace=workspace, number=number, subject_kind=fields.subject_kind,
                         subject=fields.subject, quarter=fields.quarter, held=fields.held,
                         learned=fields.learned, decisions=fields.decisions,
                         snapshot=json.dumps(snapshot, sort_keys=True, default=str),
                         author_id=account.id, created_at=now())
            db.add(row)
            try:
                db.flush()
            except IntegrityError:
                raise Invalid("quarter", "Someone else opened a review at the same moment; "
                              "try again") from None
            self._audit(db, account.email, "review.add",
                        f"{fields.subject_kind}/{fields.subject}/review-{number}", workspace,
                        quarter=fields.quarter, rows=len(snapshot))
            return _review(row, account.email)

    def save_review(self, account: Account, workspace: str, number: int, learned: str,
                    decisions: str, held: date | None = None) -> ReviewRecord:
        """What was learned and decided, saved over the draft; refused once signed off."""
        with self._transaction() as db:
            row = self._draft(db, account, workspace, number)
            fields = self._reviewable(account, workspace, ReviewFields(
                row.subject_kind, row.subject, row.quarter, held or row.held, learned,
                decisions))
            row.learned, row.decisions, row.held = fields.learned, fields.decisions, fields.held
            self._audit(db, account.email, "review.save",
                        f"{row.subject_kind}/{row.subject}/review-{number}", workspace)
            return _review(row, self._email(db, row.author_id))

    def sign_review(self, account: Account, workspace: str, number: int) -> ReviewRecord:
        """Sign a review off (admins only): from then on it is read-only."""
        if not account.may(workspace, Role.ADMIN):
            raise PermissionError(f"{account.email} may not sign off reviews in {workspace}")
        with self._transaction() as db:
            row = self._draft(db, account, workspace, number)
            if not row.learned.strip() or not row.decisions.strip():
                raise Invalid("learned", "Write what was learned and what was decided before "
                              "signing the review off")
            row.signed_by, row.signed_at = account.email, now()
            self._audit(db, account.email, "review.sign",
                        f"{row.subject_kind}/{row.subject}/review-{number}", workspace)
            return _review(row, self._email(db, row.author_id))

    def _draft(self, db: Db, account: Account, workspace: str, number: int) -> Review:
        """The review's row, locked for the change, if it may still be changed."""
        row = db.scalar(select(Review).where(Review.workspace == workspace,
                                             Review.number == number).with_for_update())
        if row is None:
            raise LookupError(f"no review {number} in {workspace}")
        if not self.may_review(account, workspace, row.subject_kind, row.subject):
            raise PermissionError(f"{account.email} may not write review {number}")
        if row.signed_at is not None:
            raise Invalid("learned", f"Review {number} was signed off by {row.signed_by} on "
                          f"{_aware(row.signed_at):%d %B %Y}; a signed-off review cannot be "
                          "changed, so nothing was saved")
        return row

    def _reviewable(self, account: Account, workspace: str,
                    fields: ReviewFields) -> ReviewFields:
        if fields.subject_kind not in REVIEW_KINDS:
            raise ValueError(f"unknown review subject kind {fields.subject_kind}")
        if not self.may_review(account, workspace, fields.subject_kind, fields.subject):
            raise PermissionError(f"{account.email} may not write reviews of "
                                  f"{fields.subject_kind} {fields.subject}")
        for problem in review_problems(fields):
            raise problem
        return ReviewFields(fields.subject_kind, fields.subject, fields.quarter, fields.held,
                            fields.learned.strip(), fields.decisions.strip())

    @staticmethod
    def _email(db: Db, user_id: int) -> str:
        return db.scalar(select(User.email).where(User.id == user_id)) or ""

    def reviews(self, workspace: str, subject_kind: str | None = None,
                subject: str | None = None) -> list[ReviewRecord]:
        """Every review (or a subject's), newest first."""
        query = (select(Review, User.email).join(User, User.id == Review.author_id)
                 .where(Review.workspace == workspace)
                 .order_by(Review.held.desc(), Review.number.desc()))
        if subject_kind is not None:
            query = query.where(Review.subject_kind == subject_kind)
        if subject is not None:
            query = query.where(Review.subject == subject)
        with self._reading() as db:
            return [_review(r, email) for r, email in db.execute(query)]

    def review(self, workspace: str, number: int) -> ReviewRecord | None:
        found = [r for r in self.reviews(workspace) if r.number == number]
        return found[0] if found else None

    # Settings -------------------------------------------------------------------------------

    def secret(self, name: str) -> bytes:
        """A random instance-wide key, made on first use and shared by every worker."""
        with self._transaction() as db:
            found = db.get(Setting, name)
            if found is not None:
                return bytes.fromhex(found.value)
        value = secrets.token_bytes(32)
        try:
            with self._transaction() as db:
                db.add(Setting(key=name, value=value.hex()))
            return value
        except IntegrityError:
            # Another worker made it first: theirs is the key.
            return self.secret(name)


def _may_write(account: Account, workspace: str, subject_kind: str) -> None:
    if not account.may(workspace, Role.CONTRIBUTOR):
        raise PermissionError(f"{account.email} may not write in {workspace}")
    if subject_kind not in SUBJECT_KINDS:
        raise ValueError(f"unknown subject kind {subject_kind}")


def _written(text: str, limit: int, field: str, missing: str, what: str) -> list[Invalid]:
    if not text.strip():
        return [Invalid(field, missing)] if missing else []
    if len(text.strip()) > limit:
        return [Invalid(field, f"{what} must be {limit:,} characters or fewer")]
    return []


def narrative_problems(text: str, factors: str) -> list[Invalid]:
    """Everything wrong with a narrative's words, each naming its field (forms show all)."""
    return [*_written(text, MAX_NARRATIVE, "text", "Enter the story behind the curve",
                      "The story"),
            *_written(factors, MAX_FACTORS, "factors", "", "The contributing factors")]


def action_problems(fields: ActionFields) -> list[Invalid]:
    """Everything wrong with an action's words and status, each naming its field."""
    problems = [*_written(fields.description, MAX_ACTION, "description",
                          "Enter what will be done", "The action"),
                *_written(fields.owner, MAX_OWNER, "owner", "Enter who owns the action",
                          "The owner")]
    if fields.status not in ACTION_STATUSES:
        problems.append(Invalid("status", f"Select a status: {', '.join(ACTION_STATUSES)}"))
    return problems


def review_problems(fields: ReviewFields) -> list[Invalid]:
    """Everything wrong with a review's words and date, each naming its field."""
    problems = [*_written(fields.learned, MAX_NARRATIVE, "learned", "", "What was learned"),
                *_written(fields.decisions, MAX_NARRATIVE, "decisions", "",
                          "What was decided")]
    if fields.held > now().date():
        problems.append(Invalid("held", "The day the review was held cannot be in the "
                                "future"))
    return problems


def _checked(fields: ActionFields) -> ActionFields:
    for problem in action_problems(fields):
        raise problem
    return ActionFields(fields.period, fields.description.strip(), fields.owner.strip(),
                        fields.partner or None, fields.due, fields.status)


def _about(written: NarrativeVersion | ActionVersion, subject_kind: str | None,
           subject: str | None) -> bool:
    return subject_kind in (None, written.subject_kind) and subject in (None, written.subject)


def _maybe_aware(at: datetime | None) -> datetime | None:
    return None if at is None else _aware(at)


def _aware(at: datetime) -> datetime:
    # SQLite gives back naive datetimes for timezone-aware columns; they were written in UTC.
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _narrative(n: Narrative, author: str) -> NarrativeVersion:
    return NarrativeVersion(n.subject_kind, n.subject, n.period, n.version, n.text, n.factors,
                            tuple(json.loads(n.partners)), author, n.created_at)


def _review(r: Review, author: str) -> ReviewRecord:
    return ReviewRecord(r.number, ReviewFields(r.subject_kind, r.subject, r.quarter, r.held,
                                               r.learned, r.decisions),
                        tuple(json.loads(r.snapshot)), author, _aware(r.created_at),
                        r.signed_by, _maybe_aware(r.signed_at))


def _action(a: Action, author: str) -> ActionVersion:
    return ActionVersion(a.number, a.version, a.subject_kind, a.subject,
                         ActionFields(a.period, a.description, a.owner, a.partner, a.due,
                                      a.status), author, a.created_at, a.origin, a.origin_ref)
