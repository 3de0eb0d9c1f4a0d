"""The web app's own state: accounts and roles, sessions, narratives, actions, self-assessment
rounds and the audit log.

SQLAlchemy 2 over SQLite by default and PostgreSQL when DATABASE_URL says so; the schema is
Alembic's (`migrations/`), brought to the newest revision whenever the state is opened.
"""

from common_outcomes.state.accounts import Account, Role, SignInRefused
from common_outcomes.state.database import database_url
from common_outcomes.state.rounds import (
    FeatureRating,
    Invalid,
    Moderated,
    RatingFields,
    Respondent,
    Round,
    RoundFeature,
)
from common_outcomes.state.store import (
    ACTION_STATUSES,
    ActionFields,
    ActionStatus,
    ActionVersion,
    NarrativeVersion,
    ReviewFields,
    ReviewRecord,
    State,
    action_problems,
    narrative_problems,
    review_problems,
)

__all__ = [
    "ACTION_STATUSES",
    "Account",
    "ActionFields",
    "ActionStatus",
    "ActionVersion",
    "FeatureRating",
    "Invalid",
    "Moderated",
    "NarrativeVersion",
    "RatingFields",
    "Respondent",
    "ReviewFields",
    "ReviewRecord",
    "Role",
    "Round",
    "RoundFeature",
    "SignInRefused",
    "State",
    "action_problems",
    "database_url",
    "narrative_problems",
    "review_problems",
]
