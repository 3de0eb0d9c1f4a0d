"""How long a sign-in attempt must wait, from the failures recorded before it.

Failures are counted by account (the email tried) and by client address, within a window.
Past a few free failures each further one doubles the wait (exponential back-off) up to a
ceiling, so guessing is slow. An attacker who knows an email cannot hold its owner out: for a
client that has not failed for that account, the account's wait is cut to a short one, so the
owner signing in from their own browser waits seconds, not the attacker's ceiling; only the
attacker's own addresses wait the long back-off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SignInLimits:
    window: timedelta = timedelta(hours=1)  # failures older than this are forgotten
    free_per_account: int = 5  # failures for one email before any wait
    free_per_client: int = 20  # failures from one address (any email) before any wait
    first_wait: timedelta = timedelta(seconds=15)  # doubled by each further failure
    longest_wait: timedelta = timedelta(minutes=15)
    # The most a client that has not failed for an account waits for that account's failures.
    stranger_wait: timedelta = timedelta(seconds=15)

    def back_off(self, failures: int, free: int, longest: timedelta) -> timedelta:
        if failures < free:
            return timedelta(0)
        doubled: timedelta = self.first_wait * 2 ** min(failures - free, 20)
        return min(doubled, longest)


@dataclass(frozen=True)
class Recent:
    """Failed and pending attempts within the window, other than the one being decided."""

    account: int  # for this email, from any client
    account_last: datetime | None
    pair: int  # for this email from this client
    client: int  # from this client, for any email
    client_last: datetime | None


def wait(limits: SignInLimits, recent: Recent, at: datetime) -> timedelta:
    """How much longer an attempt made `at` must wait (zero: check its password)."""
    longest = limits.longest_wait if recent.pair else min(limits.stranger_wait,
                                                          limits.longest_wait)
    waits = [timedelta(0)]
    if recent.account_last is not None:
        waits.append(recent.account_last + limits.back_off(
            recent.account, limits.free_per_account, longest) - at)
    if recent.client_last is not None:
        waits.append(recent.client_last + limits.back_off(
            recent.client, limits.free_per_client, limits.longest_wait) - at)
    return max(waits)


def in_words(wait: timedelta) -> str:
    seconds = max(1, int(wait.total_seconds() + 0.999))
    if seconds < 90:
        return f"{seconds} second{'s' * (seconds != 1)}"
    minutes = (seconds + 59) // 60
    return f"{minutes} minutes"
