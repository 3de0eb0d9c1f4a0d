"""Self-assessment rounds of the system conditions, in the app's state.

An admin opens a round for a period and names its respondents, each for a partner; each
respondent rates each feature (a level of the maturity model as it stood when the round
opened) with evidence, and may save and come back; an admin moderates each feature to one
level with a rationale, then closes the round, which is read-only from then on. The checks
are here, so the pages, the API and the demo refuse the same things, before anything is
written."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as Db

from common_outcomes.errors import UserError
from common_outcomes.periods import parse_any_period
from common_outcomes.state.accounts import Account, Role, normal_email
from common_outcomes.state.models import (
    AssessmentRound,
    Membership,
    Moderation,
    Rating,
    RoundRespondent,
    User,
)

MAX_EVIDENCE = 5_000
MAX_RATIONALE = 5_000
MAX_LINKS = 20
MAX_LINK = 2_000
MAX_RESPONDENTS = 200


class Invalid(UserError):
    """A value someone wrote cannot be saved (one sentence; `field` names the form field);
    raised before anything is written. The stories' checks (store.py) raise it too."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RoundFeature:
    """A feature as the round rates it: its condition, name and the levels allowed, in
    order (the first is the lowest)."""

    id: str
    condition: str
    name: str
    levels: tuple[str, ...]


@dataclass(frozen=True)
class Respondent:
    email: str
    name: str
    partner: str


@dataclass(frozen=True)
class RatingFields:
    """One feature's rating as a respondent writes it."""

    feature: str
    level: str
    evidence: str = ""
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeatureRating:
    feature: str
    respondent: str
    partner: str
    level: str
    evidence: str
    links: tuple[str, ...]
    saved_at: datetime


@dataclass(frozen=True)
class Moderated:
    feature: str
    level: str
    rationale: str
    moderator: str
    at: datetime


@dataclass(frozen=True)
class Round:
    number: int
    period: str
    features: tuple[RoundFeature, ...]
    respondents: tuple[Respondent, ...]
    ratings: tuple[FeatureRating, ...]
    moderated: tuple[Moderated, ...]
    opened_by: str
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    def feature(self, feature: str) -> RoundFeature | None:
        return next((f for f in self.features if f.id == feature), None)

    def spread(self, feature: str) -> dict[str, int]:
        """How many respondents chose each level of a feature (every level, zeros too)."""
        found = self.feature(feature)
        counts = Counter(r.level for r in self.ratings if r.feature == feature)
        return {level: counts[level] for level in (found.levels if found else ())}

    def moderation(self, feature: str) -> Moderated | None:
        return next((m for m in self.moderated if m.feature == feature), None)

    def rated_by(self, email: str) -> dict[str, FeatureRating]:
        return {r.feature: r for r in self.ratings if r.respondent == email}

    def respondent(self, email: str) -> Respondent | None:
        return next((r for r in self.respondents if r.email == email), None)


class RoundsStore:
    """The rounds' part of `State` (state/store.py), which supplies the transaction and the
    audit that every change is written with."""

    def _transaction(self) -> AbstractContextManager[Db]:
        raise NotImplementedError

    def _reading(self) -> AbstractContextManager[Db]:
        raise NotImplementedError

    def _audit(self, db: Db, actor: str, action: str, target: str,
               workspace: str | None = None, **detail: Any) -> None:
        raise NotImplementedError

    def open_round(self, account: Account, workspace: str, period: str,
                   features: Sequence[RoundFeature], respondents: Sequence[tuple[str, str]],
                   partners: Collection[str]) -> Round:
        """A new round for `period` rating `features` (the maturity model now), with its
        respondents as (email, partner); admins only."""
        _admin(account, workspace)
        period = period.strip()
        try:
            period = parse_any_period(period).label
        except ValueError as exc:
            raise Invalid("period", f"{exc}.") from None
        if not features:
            raise Invalid("period", "The maturity model has no features to rate.")
        named = _respondents(respondents, partners)
        with self._transaction() as db:
            if db.scalar(select(AssessmentRound.id).where(
                    AssessmentRound.workspace == workspace,
                    AssessmentRound.period == period)) is not None:
                raise Invalid("period", f"There is already a round for {period}; rate "
                                   "that one or choose another period.")
            users = _members(db, workspace, [e for e, _ in named])
            number = (db.scalar(select(func.max(AssessmentRound.number))
                                .where(AssessmentRound.workspace == workspace)) or 0) + 1
            row = AssessmentRound(
                workspace=workspace, number=number, period=period,
                features=json.dumps([{"id": f.id, "condition": f.condition, "name": f.name,
                                      "levels": list(f.levels)} for f in features]),
                opened_by=account.id, opened_at=_now())
            db.add(row)
            try:
                db.flush()
            except IntegrityError:
                raise Invalid("period", "Someone else opened a round at the same "
                                   "moment; try again.") from None
            for email, partner in named:
                db.add(RoundRespondent(round_id=row.id, user_id=users[email], partner=partner))
            self._audit(db, account.email, "round.open", f"round-{number}", workspace,
                        period=period, respondents=len(named))
        found = self.round(workspace, number)
        assert found is not None
        return found

    def save_ratings(self, account: Account, workspace: str, number: int,
                     ratings: Sequence[RatingFields]) -> Round:
        """A respondent's ratings of some features (others keep what was saved before):
        all saved, or none when any is wrong."""
        with self._transaction() as db:
            row = _open_row(db, workspace, number)
            mine = db.scalar(select(RoundRespondent).where(
                RoundRespondent.round_id == row.id, RoundRespondent.user_id == account.id))
            if mine is None:
                raise PermissionError(f"{account.email} is not a respondent of round {number}")
            allowed = {f["id"]: f["levels"] for f in json.loads(row.features)}
            checked = [_rating(r, allowed) for r in ratings]
            for r in checked:
                found = db.scalar(select(Rating).where(
                    Rating.round_id == row.id, Rating.user_id == account.id,
                    Rating.feature == r.feature))
                if found is None:
                    found = Rating(round_id=row.id, user_id=account.id, feature=r.feature)
                    db.add(found)
                found.level, found.evidence = r.level, r.evidence
                found.links, found.saved_at = json.dumps(list(r.links)), _now()
            if checked:
                self._audit(db, account.email, "round.rate", f"round-{number}", workspace,
                            features={r.feature: r.level for r in checked})
        found_round = self.round(workspace, number)
        assert found_round is not None
        return found_round

    def moderate(self, account: Account, workspace: str, number: int, feature: str,
                 level: str, rationale: str) -> Round:
        """The level the round settles on for a feature, and why (admins only)."""
        _admin(account, workspace)
        rationale = rationale.strip()
        if not rationale:
            raise Invalid("rationale", "Enter why the round settles on this level.")
        if len(rationale) > MAX_RATIONALE:
            raise Invalid("rationale", f"The rationale must be {MAX_RATIONALE:,} "
                               "characters or fewer.")
        with self._transaction() as db:
            row = _open_row(db, workspace, number)
            allowed = {f["id"]: f["levels"] for f in json.loads(row.features)}
            checked = _rating(RatingFields(feature, level), allowed)
            found = db.scalar(select(Moderation).where(Moderation.round_id == row.id,
                                                       Moderation.feature == feature))
            if found is None:
                found = Moderation(round_id=row.id, feature=feature)
                db.add(found)
            found.level, found.rationale = checked.level, rationale
            found.moderator_id, found.moderated_at = account.id, _now()
            self._audit(db, account.email, "round.moderate", f"round-{number}/{feature}",
                        workspace, level=checked.level)
        found_round = self.round(workspace, number)
        assert found_round is not None
        return found_round

    def close_round(self, account: Account, workspace: str, number: int) -> Round:
        """Close a round whose every feature is moderated (admins only); read-only after."""
        _admin(account, workspace)
        with self._transaction() as db:
            row = _open_row(db, workspace, number)
            features = [f["id"] for f in json.loads(row.features)]
            done = set(db.scalars(select(Moderation.feature)
                                  .where(Moderation.round_id == row.id)))
            waiting = [f for f in features if f not in done]
            if waiting:
                more = ", ..." if len(waiting) > 3 else ""
                raise Invalid("round", f"Moderate every feature before closing round "
                                   f"{number}: {len(waiting)} not yet moderated "
                                   f"({', '.join(waiting[:3])}{more}).")
            row.closed_by, row.closed_at = account.id, _now()
            self._audit(db, account.email, "round.close", f"round-{number}", workspace)
        found = self.round(workspace, number)
        assert found is not None
        return found

    def rounds(self, workspace: str) -> list[Round]:
        """Every round of a workspace, oldest first."""
        with self._reading() as db:
            rows = db.scalars(select(AssessmentRound).where(
                AssessmentRound.workspace == workspace).order_by(AssessmentRound.number)).all()
            return [_round(db, r) for r in rows]

    def round(self, workspace: str, number: int) -> Round | None:
        with self._reading() as db:
            row = db.scalar(select(AssessmentRound).where(
                AssessmentRound.workspace == workspace, AssessmentRound.number == number))
            return None if row is None else _round(db, row)


def _admin(account: Account, workspace: str) -> None:
    if not account.may(workspace, Role.ADMIN):
        raise PermissionError(f"{account.email} may not manage rounds in {workspace}")


def _respondents(respondents: Sequence[tuple[str, str]], partners: Collection[str]
                 ) -> list[tuple[str, str]]:
    if not respondents:
        raise Invalid("respondents", "Name at least one respondent.")
    if len(respondents) > MAX_RESPONDENTS:
        raise Invalid("respondents", f"Name {MAX_RESPONDENTS} respondents or fewer.")
    named: dict[str, str] = {}
    for email, partner in respondents:
        try:
            email = normal_email(email)
        except UserError as exc:
            raise Invalid("respondents", str(exc)) from None
        if partner not in partners:
            raise Invalid("respondents", f"'{partner}' is not one of the workspace's "
                               "partners.")
        if email in named and named[email] != partner:
            raise Invalid("respondents", f"{email} is named for two partners; name each "
                               "respondent once.")
        named[email] = partner
    return list(named.items())


def _members(db: Db, workspace: str, emails: Sequence[str]) -> dict[str, int]:
    """The accounts of these emails that have a role in the workspace, by email."""
    found = {email: user for email, user in db.execute(select(User.email, User.id).join(
        Membership, Membership.user_id == User.id).where(
        User.email.in_(emails), Membership.workspace == workspace))}
    missing = [e for e in emails if e not in found]
    if missing:
        raise Invalid("respondents", f"{missing[0]} has no account with a role in this "
                           "workspace; add them first (outcomes users add).")
    return found


def _open_row(db: Db, workspace: str, number: int) -> AssessmentRound:
    row = db.scalar(select(AssessmentRound).where(AssessmentRound.workspace == workspace,
                                                  AssessmentRound.number == number))
    if row is None:
        raise LookupError(f"no round {number} in {workspace}")
    if row.closed_at is not None:
        raise Invalid("round", f"Round {number} ({row.period}) is closed, so nothing in "
                           "it can change.")
    return row


def _rating(r: RatingFields, allowed: dict[str, list[str]]) -> RatingFields:
    """A rating checked against the round's model; Invalid naming the feature's field."""
    if r.feature not in allowed:
        raise Invalid("feature", f"'{r.feature}' is not a feature of this round.")
    if r.level not in allowed[r.feature]:
        raise Invalid(r.feature, f"'{r.level}' is not a level of the model for "
                           f"'{r.feature}': choose one of {', '.join(allowed[r.feature])}.")
    evidence = r.evidence.strip()
    if len(evidence) > MAX_EVIDENCE:
        raise Invalid(r.feature, f"The evidence for '{r.feature}' must be "
                           f"{MAX_EVIDENCE:,} characters or fewer.")
    links = tuple(x.strip() for x in r.links if x.strip())
    if len(links) > MAX_LINKS:
        raise Invalid(r.feature, f"Give {MAX_LINKS} links or fewer for '{r.feature}'.")
    for link in links:
        parts = urlsplit(link)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(link) > MAX_LINK:
            raise Invalid(r.feature, f"'{link[:80]}' is not a web address; links start "
                               "with https://.")
    return RatingFields(r.feature, r.level, evidence, links)


def _round(db: Db, row: AssessmentRound) -> Round:
    names = {user: email for user, email in db.execute(select(User.id, User.email).where(
        User.id.in_([x for x in (row.opened_by, row.closed_by) if x is not None])))}
    respondents = tuple(
        Respondent(email, name, partner) for email, name, partner in db.execute(
            select(User.email, User.name, RoundRespondent.partner)
            .join(RoundRespondent, RoundRespondent.user_id == User.id)
            .where(RoundRespondent.round_id == row.id).order_by(RoundRespondent.partner,
                                                                User.email)))
    partner_of = {r.email: r.partner for r in respondents}
    ratings = tuple(
        FeatureRating(r.feature, email, partner_of.get(email, ""), r.level, r.evidence,
                      tuple(json.loads(r.links)), _aware(r.saved_at))
        for r, email in db.execute(select(Rating, User.email).join(
            User, User.id == Rating.user_id).where(Rating.round_id == row.id)
            .order_by(Rating.feature, User.email)))
    moderated = tuple(
        Moderated(m.feature, m.level, m.rationale, email, _aware(m.moderated_at))
        for m, email in db.execute(select(Moderation, User.email).join(
            User, User.id == Moderation.moderator_id).where(Moderation.round_id == row.id)
            .order_by(Moderation.feature)))
    return Round(
        row.number, row.period,
        tuple(RoundFeature(f["id"], f["condition"], f["name"], tuple(f["levels"]))
              for f in json.loads(row.features)),
        respondents, ratings, moderated, names[row.opened_by], _aware(row.opened_at),
        names.get(row.closed_by) if row.closed_by is not None else None,
        _aware(row.closed_at) if row.closed_at is not None else None)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(at: datetime) -> datetime:
    # SQLite gives back naive datetimes for timezone-aware columns; they were written in UTC.
    return at if at.tzinfo else at.replace(tzinfo=UTC)
