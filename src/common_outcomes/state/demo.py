"""The example's invented self-assessments (`outcomes demo`): respondents from several
partners, two rounds rated, moderated and closed, with movement between them, and a third
round open for the demo account to rate. Every name, rating and word is invented."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from common_outcomes.state.accounts import Account, Role
from common_outcomes.state.rounds import RatingFields, RoundFeature

if TYPE_CHECKING:
    from common_outcomes.state.store import State

# (email, name, partner): each speaks for one partner. Their passwords are random and never
# shown: nobody signs in as them in the demo.
RESPONDENTS = (
    ("hv.lead@example.org", "Health visiting lead", "health-visiting"),
    ("schools.lead@example.org", "Schools and early years lead", "schools-and-early-years"),
    ("vcs.lead@example.org", "Voluntary sector lead", "vcs-alliance"),
    ("police.lead@example.org", "Police safeguarding lead", "police-safeguarding"),
)
PERIODS = ("2023/24", "2024/25", "2025/26")
# Each respondent's view against the moderated level: a spread, not one voice.
LEANS = (0, 1, -1, 0)
EVIDENCE = (
    "Seen in our own service this year; the partnership board minutes record it.",
    "Practitioners told us this in the spring survey; some teams are further on than others.",
    "Our members' experience differs by locality; the picture is mixed.",
    "Referral and case review discussions show this; we would like to see it sustained.",
)


def demo_rounds(state: State, workspace: str, features: Sequence[RoundFeature],
                partners: Collection[str], admin: str, actor: str,
                rater: str | None = None) -> int:
    """Make the example's rounds unless the workspace has some; returns how many were made.
    `admin` opens, moderates and closes them; `rater` (default: the admin) is named to rate
    the open one, for early help."""
    if state.rounds(workspace) or not features:
        return 0
    respondents = [r for r in RESPONDENTS if r[2] in partners]
    for email, name, _ in respondents:
        if not state.has_user(email):
            state.add_user(email, name, secrets.token_urlsafe(24), workspace, Role.VIEWER,
                           actor)
        else:
            state.grant(email, workspace, Role.VIEWER, actor)
    boss = _account(state, admin)
    people = [_account(state, email) for email, _, _ in respondents]
    top = len(features[0].levels) - 1
    for n, period in enumerate(PERIODS):
        named = [(e, p) for e, _, p in respondents]
        if n == len(PERIODS) - 1:  # the open round: the demo account rates for early help
            named.append((rater or admin, "early-help"))
        state.open_round(boss, workspace, period, features, named, partners)
        number = n + 1
        for who, person in enumerate(people):
            state.save_ratings(person, workspace, number, [
                RatingFields(f.id, f.levels[_clamp(_level(i, n) + LEANS[who], top)],
                             EVIDENCE[(i + who) % len(EVIDENCE)],
                             (f"https://example.org/{workspace}/evidence/{period[:4]}/{f.id}",)
                             if who == 0 else ())
                for i, f in enumerate(features)])
        if n == len(PERIODS) - 1:
            break
        for i, f in enumerate(features):
            level = f.levels[_clamp(_level(i, n), top)]
            state.moderate(boss, workspace, number, f.id, level, _rationale(i, n, level))
        state.close_round(boss, workspace, number)
    return len(PERIODS)


def _level(i: int, n: int) -> int:
    """A feature's invented level in round n: mostly developing, most features up a level a
    year, and every fifth one slipping back in the second round."""
    start = (0, 1, 1, 2)[i % 4]
    if n == 0:
        return start
    return start - 1 if i % 5 == 4 else start + (0 if i % 3 == 2 else 1) * n


def _clamp(level: int, top: int) -> int:
    return max(0, min(top, level))


def _rationale(i: int, n: int, level: str) -> str:
    if n > 0 and i % 5 == 4:
        return (f"Moderated to {level}: respondents agreed it has slipped since last year, "
                "as staff changes interrupted the work.")
    return (f"Moderated to {level}: most respondents placed it here, and the evidence "
            "they gave supports it.")


def _account(state: State, email: str) -> Account:
    found = state.account_of(email)
    if found is None:
        raise LookupError(f"no account for {email}")
    return found
