"""Who someone is and what they may do: roles, accounts and password hashes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from common_outcomes.errors import UserError

# Argon2id with the library's defaults (RFC 9106's second recommended option).
HASHER = PasswordHasher()
MIN_PASSWORD = 12


class Role(StrEnum):
    """Each role may do what the roles before it may."""

    VIEWER = "viewer"  # reads the workspace's pages and API
    CONTRIBUTOR = "contributor"  # writes narratives and actions
    ANALYST = "analyst"  # and manages data (loads, runs), later
    ADMIN = "admin"  # and manages the workspace's users, later

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True)
class Account:
    """A signed-in user as the app sees them: who, and their role in each workspace."""

    id: int
    email: str
    name: str
    roles: Mapping[str, Role]

    def may(self, workspace: str, needed: Role) -> bool:
        role = self.roles.get(workspace)
        return role is not None and role.allows(needed)


class SignInRefused(UserError):
    """Wrong email or password, or too many attempts (then `retry_after` says how long to
    wait); the message is safe to show."""

    def __init__(self, message: str, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise UserError(f"Unknown role '{text}': use one of "
                        f"{', '.join(r.value for r in Role)}.") from None


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"The password must be at least {MIN_PASSWORD} characters long.")


def hash_password(password: str) -> str:
    check_password(password)
    return HASHER.hash(password)


# Verified when the email is unknown, so that the answer takes as long either way.
_DUMMY = HASHER.hash("not a password anyone has")


def password_matches(stored: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def normal_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@") or " " in email:
        raise UserError(f"'{email}' is not an email address.")
    return email
