"""In-process rate limits (issue 9): a token bucket per hospital access key on /fsi, and a failed-login
budget per username + client address on /api/login and the login page.

A token bucket refills ``rate`` tokens per second up to ``burst``; each call takes one. Buckets live in the
process (one table per AppContext for /fsi, per app for logins); with N worker processes
(``YIDI_SERVER_WORKERS``, set by ``yidi serve --workers N``) each process takes 1/N of the /fsi rate and burst,
so the whole server holds the configured limit as long as connections spread evenly over the workers
(the kernel hands them out). It is a guard against a runaway HIS loop, not a quota.
Logins: only *failed* attempts take a token, so a person who types the password right is never locked out by
their own successful logins; once the budget is spent even the right password is refused until it refills,
which is what stops guessing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from yidi.config import get_settings
from yidi.domain.errors import YidiError

_CREATE = threading.Lock()  # guards creating the bucket tables
MAX_KEYS = 50_000  # a flood of distinct keys (e.g. made-up usernames) cannot grow memory without bound


@dataclass
class TokenBucket:
    rate: float  # tokens per second; 0 or less = unlimited
    burst: float
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, last refill)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def available(self, key: str, now: float | None = None) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._tokens(key, now) >= 1

    def take(self, key: str, now: float | None = None) -> bool:
        """Take one token; False (nothing taken) when the bucket is empty."""
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens = self._tokens(key, now)
            if len(self._buckets) >= MAX_KEYS and key not in self._buckets:
                # Forget keys whose buckets are full again: they hold no state worth keeping.
                self._buckets = {k: v for k, v in self._buckets.items() if self._tokens(k, now) < self.burst}
                if len(self._buckets) >= MAX_KEYS:
                    self._buckets.clear()
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1, now)
            return True

    def retry_after(self, key: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            return max(0.0, (1 - self._tokens(key, now)) / self.rate) if self.rate > 0 else 0.0


def _shared(holder: dict, name: str, factory) -> TokenBucket:
    with _CREATE:
        if holder.get(name) is None:
            holder[name] = factory()
        return holder[name]


def check_fsi(ctx, access_key: str) -> None:
    """One call of this access key; RATE_LIMITED when its bucket is empty. Called after the signature check,
    so nobody can spend a hospital's budget without its secret."""
    settings = get_settings()
    share = max(1, settings.server_workers)
    bucket = _shared(ctx.__dict__, "_fsi_rate_limit",
                     lambda: TokenBucket(settings.fsi_rate_per_second / share, max(1.0, settings.fsi_rate_burst / share)))
    if not bucket.take(access_key):
        raise YidiError("RATE_LIMITED", {"detail": f"机构接口调用超过每秒 {bucket.rate:g} 笔，"
                                                   f"请 {bucket.retry_after(access_key):.1f} 秒后重试"})


def _login_bucket(app_state) -> TokenBucket:
    """The app's failed-login buckets (``app.state``: one table per application instance)."""
    with _CREATE:
        bucket = getattr(app_state, "login_rate_limit", None)
        if bucket is None:
            per_minute = get_settings().login_failures_per_minute
            bucket = TokenBucket(per_minute / 60.0, per_minute)
            app_state.login_rate_limit = bucket
    return bucket


def login_key(username: str, client_host: str | None) -> str:
    return f"{(username or '').strip().lower()}|{client_host or '-'}"


def check_login(app_state, username: str, client_host: str | None) -> None:
    """Before verifying a password: refuse when this username+address has used up its failed attempts."""
    bucket = _login_bucket(app_state)
    key = login_key(username, client_host)
    if not bucket.available(key):
        raise YidiError("RATE_LIMITED", {"detail": f"该账号在本地址登录失败次数过多，请 {bucket.retry_after(key):.0f} 秒后再试"})


def login_failed(app_state, username: str, client_host: str | None) -> None:
    _login_bucket(app_state).take(login_key(username, client_host))
