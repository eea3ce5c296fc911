"""Sign-in for the web console: sessions, CSRF tokens, the console password, a rate limit.

Guarantees:

- A session is a random 256-bit id in an HttpOnly, SameSite=Strict cookie (Secure under TLS);
  the server keeps only a SHA-256 of it, so a memory dump does not hand out live sessions.
  Sessions end on sign-out, after :data:`IDLE_SECONDS` idle or :data:`MAX_AGE_SECONDS` in
  total; at most :data:`MAX_SESSIONS` live at once (the oldest is dropped first).
- Each session has its own CSRF token, required on every state-changing request (form field
  ``csrf`` or header ``X-CSRF-Token``), compared in constant time.
- Sign-in accepts the control token or the console password (``cirahubctl console-password``
  stores a scrypt hash in ``<data_dir>/console.password``, mode 0600; the clear password is
  never stored). Failed sign-ins are limited per client address (:class:`RateLimit`).
- Nothing here logs a token, a password or a session id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cirahub.core.errors import InvalidInput

PASSWORD_FILE = "console.password"
SESSION_COOKIE = "cirahub_session"
#: cookie of the sign-in form's CSRF token (double submit: no session exists yet)
SIGNIN_COOKIE = "cirahub_signin"
IDLE_SECONDS = 2 * 3600
MAX_AGE_SECONDS = 12 * 3600
MAX_SESSIONS = 1000
MIN_PASSWORD = 12
MAX_SECRET = 1024  # longest token or password accepted (bounded input)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- console password ------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """The stored form ``scrypt$n$r$p$salt$hash`` (base64). InvalidInput when too short."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the console password needs at least {MIN_PASSWORD} characters",
                           field="password")
    if len(password) > MAX_SECRET:
        raise InvalidInput(f"the console password is longer than {MAX_SECRET} characters",
                           field="password")
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    b64 = base64.b64encode
    return (f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}$"
            f"{b64(salt).decode()}${b64(key).decode()}")


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time compare); False when ``stored``
    is malformed."""
    try:
        scheme, n, r, p, salt, key = stored.strip().split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(key)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def write_password(data_dir: Path, password: str) -> Path:
    """Stores the hash of ``password`` (mode 0600, atomically replacing an older one)."""
    path = Path(data_dir) / PASSWORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(hash_password(password) + "\n")
    os.replace(tmp, path)
    return path


def read_password_hash(data_dir: Path) -> str | None:
    try:
        return (Path(data_dir) / PASSWORD_FILE).read_text().strip() or None
    except OSError:
        return None


# --- sessions --------------------------------------------------------------------------------


@dataclass
class Session:
    csrf: str
    created: float
    seen: float
    #: the wizard's draft (kind, config, secret, ...): server-side only, never rendered back
    wizard: dict[str, object] = field(default_factory=dict)
    #: one-shot messages shown on the next page
    flash: list[str] = field(default_factory=list)


class Sessions:
    """Live console sessions, keyed by the SHA-256 of their cookie value. Thread-safe."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._by_digest: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self._clock = clock or time.monotonic

    def create(self) -> tuple[str, Session]:
        """A new session: (cookie value, session)."""
        sid = secrets.token_urlsafe(32)
        now = self._clock()
        session = Session(csrf=secrets.token_urlsafe(32), created=now, seen=now)
        with self._lock:
            self._by_digest[_digest(sid)] = session
            while len(self._by_digest) > MAX_SESSIONS:
                self._by_digest.popitem(last=False)
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        """The live session of a cookie value, or None (unknown, idle or too old)."""
        if not sid or len(sid) > 128:
            return None
        key = _digest(sid)
        now = self._clock()
        with self._lock:
            session = self._by_digest.get(key)
            if session is None:
                return None
            if now - session.seen > IDLE_SECONDS or now - session.created > MAX_AGE_SECONDS:
                del self._by_digest[key]
                return None
            session.seen = now
            return session

    def end(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._by_digest.pop(_digest(sid), None)

    def __len__(self) -> int:
        return len(self._by_digest)


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


# --- sign-in ---------------------------------------------------------------------------------


class RateLimit:
    """At most ``attempts`` failed sign-ins per client address in ``window`` seconds (and
    :data:`MAX_CLIENTS` addresses tracked: past that the oldest are forgotten)."""

    MAX_CLIENTS = 10_000

    def __init__(self, attempts: int = 5, window: float = 60.0) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            times = self._failures.get(client)
            if not times:
                return 0
            while times and now - times[0] > self.window:
                times.popleft()
            if len(times) < self.attempts:
                return 0
            return max(1, int(self.window - (now - times[0])) + 1)

    def failed(self, client: str) -> None:
        with self._lock:
            times = self._failures.setdefault(client, deque(maxlen=self.attempts))
            times.append(time.monotonic())
            self._failures.move_to_end(client)
            while len(self._failures) > self.MAX_CLIENTS:
                self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


def secret_matches(given: str, token: str, data_dir: Path) -> bool:
    """Whether ``given`` is the control token or the console password."""
    if not given or len(given) > MAX_SECRET:
        return False
    if hmac.compare_digest(given.encode(), token.encode()):
        return True
    stored = read_password_hash(data_dir)
    return stored is not None and check_password(given, stored)
