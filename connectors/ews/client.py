"""Config validation, exchangelib account/folder setup, and the retry loop with error mapping.

exchangelib runs with its ``FailFast`` policy (any fault raises at once); this module owns the
retries so that their total time is bounded: ErrorServerBusy honours the server's
BackOffMilliseconds, connection errors back off exponentially, and once ``max_retry_seconds``
would be exceeded a TransientError (with ``back_off``) is raised. A 401 is an AuthError at once.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

import requests.exceptions
from exchangelib import (
    DELEGATE,
    IMPERSONATION,
    Account,
    Build,
    Configuration,
    Version,
)
from exchangelib import errors as ews_errors
from exchangelib.protocol import BaseProtocol

from cirahub.connectors.bounded import bound_later, read_response
from cirahub.core.errors import (
    AuthError,
    CirahubError,
    ConfigError,
    InvalidInput,
    ItemRejected,
    PreconditionFailed,
    ProtocolError,
    RemoteNotFound,
    TransientError,
)

from . import auth

log = logging.getLogger(__name__)
T = TypeVar("T")

_VERSIONS = {"exchange2013": Build(15, 0, 0, 0), "exchange2016": Build(15, 1, 0, 0),
             "exchange2019": Build(15, 2, 0, 0), "office365": Build(15, 20, 0, 0)}
_TRANSIENT_CODES = (
    ews_errors.ErrorServerBusy, ews_errors.ErrorTimeoutExpired, ews_errors.ErrorInternalServerTransientError,
    ews_errors.ErrorMailboxStoreUnavailable, ews_errors.ErrorMailboxMoveInProgress,
    ews_errors.ErrorConnectionFailed, ews_errors.RateLimitError, ews_errors.CASError,
    ews_errors.ErrorTooManyObjectsOpened,
)


@dataclass(frozen=True)
class EwsConfig:
    """A validated EWS spoke config (see :func:`validate`)."""

    kind: str
    username: str
    folder: str
    service_endpoint: str | None = None
    autodiscover: bool = False
    version: str = "exchange2016"
    auth_type: str = "basic"
    mailbox: str | None = None
    access_type: str = "delegate"
    timezone: str = "UTC"
    #: items per FindItem page of a listing: Exchange returns at most 1,000 a page
    #: (EWSFindCountLimit), and each page is a round trip
    page_size: int = 1000
    full_scan_seconds: float = 3600.0
    overlap_seconds: float = 120.0
    max_retry_seconds: float = 60.0
    meetings_as_appointments: bool = False
    # OAuth 2.0 sign-in (auth_type oauth-app / oauth-delegated; see connectors/ews/auth.py)
    tenant: str | None = None
    client_id: str | None = None
    certificate: str | None = None
    authority: str | None = None
    authority_ca_file: str | None = None
    # Exchange Online public folders: X-AnchorMailbox / X-PublicFolderMailbox from Autodiscover
    # (see connectors/ews/routing.py); autodiscover_url defaults from the endpoint
    public_folder_routing: bool = False
    autodiscover_url: str | None = None


def validate(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Normalized config or InvalidInput naming the bad key."""
    known = set(EwsConfig.__dataclass_fields__) - {"kind"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise InvalidInput(f"unknown config key {unknown[0]!r} for {kind}", key=unknown[0])
    out = {k: v for k, v in config.items()}
    _check_user(out)
    for flag in ("autodiscover", "public_folder_routing"):
        if not isinstance(out.get(flag, False), bool):
            raise InvalidInput(f"{flag} must be true or false", key=flag)
    autodiscover = out.get("autodiscover", False)
    if out.get("autodiscover_url") is not None:
        parsed = urlparse(str(out["autodiscover_url"]))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidInput("autodiscover_url must be an http(s) URL", key="autodiscover_url")
    endpoint = out.get("service_endpoint")
    if not autodiscover:
        parsed = urlparse(str(endpoint or ""))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidInput("service_endpoint must be an http(s) URL (or set autodiscover)", key="service_endpoint")
    folder = out.get("folder", "" if kind == "ews-mailbox" else None)
    if not isinstance(folder, str) or (kind == "ews-public-folder" and not folder.strip("/")):
        raise InvalidInput("folder must be a path like /Calendars/Team", key="folder")
    out["folder"] = folder
    if str(out.get("version", "exchange2016")).lower() not in _VERSIONS:
        raise InvalidInput(f"version must be one of {', '.join(sorted(_VERSIONS))}", key="version")
    auth.validate(out)
    if out.get("access_type", "delegate") not in ("delegate", "impersonation"):
        raise InvalidInput("access_type must be delegate or impersonation", key="access_type")
    for key in ("page_size", "full_scan_seconds", "overlap_seconds", "max_retry_seconds"):
        if key in out and (isinstance(out[key], bool) or not isinstance(out[key], int | float) or out[key] < 0):
            raise InvalidInput(f"{key} must be a non-negative number", key=key)
    if "page_size" in out and not 1 <= int(out["page_size"]) <= 1000:
        raise InvalidInput("page_size must be between 1 and 1000", key="page_size")
    return out


#: the user name forms Exchange accepts: a UPN (user@example.com), DOMAIN\\user, or a plain name
_USERNAME = re.compile(r"[^\s@\\/]+@[^\s@\\/]+|[^\s@\\/]+\\[^\s@\\/]+|[^\s@\\/:]+")


def _check_user(out: dict[str, Any]) -> None:
    """Every user name form Exchange accepts; the mailbox's e-mail address (which EWS
    addresses the mailbox by) is the username when it is one, else ``mailbox`` must give it."""
    user = out.get("username")
    if not isinstance(user, str) or not _USERNAME.fullmatch(user.strip()):
        raise InvalidInput("username must be a user name Exchange accepts: user@example.com "
                           "(UPN), DOMAIN\\user, or a plain user name", key="username")
    out["username"] = user.strip()
    mailbox = out.get("mailbox")
    if mailbox is not None and (not isinstance(mailbox, str) or "@" not in mailbox):
        raise InvalidInput("mailbox must be an e-mail address (the mailbox's primary SMTP "
                           "address)", key="mailbox")
    if "@" not in user and not mailbox:
        raise InvalidInput(
            f"username {user.strip()!r} is not an e-mail address, so give the mailbox's address "
            "too (--mailbox svc-sync@example.com): EWS addresses the mailbox by it",
            key="mailbox")


def make_config(kind: str, config: Mapping[str, Any]) -> EwsConfig:
    return EwsConfig(kind=kind, **{k: v for k, v in config.items()})


def open_account(cfg: EwsConfig, secret: str | None) -> Account:
    """An exchangelib Account (no request is sent unless autodiscover is on)."""
    return open_signed_in(cfg, sign_in(cfg, secret))


def sign_in(cfg: EwsConfig, secret: str | None,
            on_refresh_token: Callable[[str], None] | None = None) -> auth.SignIn:
    """The credentials of ``cfg`` (password, or a token provider for OAuth)."""
    return auth.sign_in(cfg.__dict__, cfg.username, secret, on_refresh_token=on_refresh_token)


def open_signed_in(cfg: EwsConfig, signed: auth.SignIn) -> Account:
    """An exchangelib Account with ``signed``'s credentials; app-only OAuth acts as the
    configured user (ExchangeImpersonation), as Exchange Online requires."""
    address = cfg.mailbox or cfg.username
    impersonate = cfg.access_type == "impersonation" or signed.impersonate
    access = IMPERSONATION if impersonate else DELEGATE
    if cfg.autodiscover:
        return Account(address, credentials=signed.credentials, autodiscover=True, access_type=access)
    policy = auth.ExchangePolicy(auth.RefusalContext(auth.mode(cfg.__dict__), address, cfg.client_id))
    conf = Configuration(
        service_endpoint=cfg.service_endpoint, credentials=signed.credentials,
        auth_type=signed.auth_type, version=Version(build=_VERSIONS[cfg.version.lower()]),
        retry_policy=policy,
    )
    return Account(address, config=conf, autodiscover=False, access_type=access)


def map_error(exc: BaseException, what: str) -> CirahubError:
    """The project error for an exchangelib / transport exception."""
    name = type(exc).__name__
    if isinstance(exc, CirahubError):
        return exc
    if isinstance(exc, ews_errors.UnauthorizedError | ews_errors.ErrorAccessDenied):
        return AuthError(f"{what}: Exchange rejected the credentials", error=name)
    if isinstance(exc, ews_errors.ErrorIrresolvableConflict | ews_errors.ErrorChangeKeyRequiredForWriteOperations):
        return PreconditionFailed(f"{what}: the item changed on the server", error=name)
    if isinstance(exc, ews_errors.ErrorItemNotFound | ews_errors.ErrorCalendarOccurrenceIsDeletedFromRecurrence):
        return RemoteNotFound(f"{what}: item not found", error=name)
    if isinstance(exc, ews_errors.ErrorFolderNotFound | ews_errors.ErrorNonExistentMailbox | ews_errors.DoesNotExist):
        return ConfigError(f"{what}: folder or mailbox not found", error=name)
    if isinstance(exc, _TRANSIENT_CODES) or _is_connection_error(exc):
        return TransientError(f"{what}: {name}", back_off=getattr(exc, "back_off", None), error=name)
    # exchangelib's ResponseMessageError (every EWS response code) derives from TransportError:
    # a code answered about this request or item is not a transport failure, and retrying it
    # changes nothing; neither does a code exchangelib does not know (the public-folder ones)
    if isinstance(exc, ews_errors.ResponseMessageError):
        return ProtocolError(f"{what}: Exchange answered {name}", error=name)
    if isinstance(exc, ews_errors.TransportError) and str(exc).startswith("Unknown ResponseCode"):
        return ProtocolError(f"{what}: Exchange answered {_code_of(exc)}", error=_code_of(exc))
    if isinstance(exc, ews_errors.TransportError):
        return TransientError(f"{what}: {name}", back_off=getattr(exc, "back_off", None), error=name)
    return ProtocolError(f"{what}: unexpected answer from Exchange ({name})", error=name)


def raise_delete_failures(results: Iterable[Any], what: str) -> None:
    """Raise the first failure of a ``bulk_delete``'s answers, mapped; an item already gone
    counts as deleted."""
    for r in results:
        if isinstance(r, Exception) and not isinstance(map_error(r, ""), RemoteNotFound):
            raise map_error(r, what)


def _code_of(exc: BaseException) -> str:
    """The EWS response code quoted in exchangelib's "Unknown ResponseCode" message."""
    words = str(exc).split(": ", 1)[-1].split()
    return words[0] if words and words[0].startswith("Error") else type(exc).__name__


#: longest server or library message quoted in an item's error
_QUOTE_MAX = 300


def item_error(exc: BaseException, what: str) -> CirahubError:
    """The error of one item's write: the project's error where one fits (not found, stale,
    transient), else ItemRejected quoting what Exchange (or exchangelib, refusing before
    sending) said about this item. Item messages quote item values, never credentials."""
    err = map_error(exc, what)
    if not isinstance(err, ProtocolError):
        return err
    name = type(exc).__name__
    text = " ".join(str(exc).split())[:_QUOTE_MAX]
    source = "exchangelib refused it before sending" if isinstance(exc, ValueError | TypeError) else name
    return ItemRejected(f"{what}: {source}: {text}" if text else f"{what}: {source}", error=name)


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout
                      | ConnectionError | TimeoutError | ews_errors.ErrorTimeoutExpired)


def with_retry(fn: Callable[[], T], what: str, max_seconds: float,
               sleep: Callable[[float], None] = time.sleep,
               on_token_refused: Callable[[], None] | None = None) -> T:
    """Run ``fn``, retrying server-busy and connection failures for at most ``max_seconds``
    in total. ``fn`` must be safe to repeat (every caller here re-checks before writing).
    A bearer token refused with 401 is dropped (``on_token_refused``) and ``fn`` retried once
    with a fresh one; a second refusal is an AuthError."""
    started, attempt, refused = time.monotonic(), 0, False
    while True:
        try:
            return fn()
        except Exception as exc:  # exchangelib raises many unrelated bases; map them all
            err = map_error(exc, what)
            if isinstance(err, auth.TokenRefused) and on_token_refused is not None and not refused:
                refused = True
                on_token_refused()
                continue
            if isinstance(err, auth.TokenRefused):
                raise AuthError(f"{what}: Exchange refused a freshly issued access token (check the "
                                "app's tenant and the token's audience)", **err.fields) from exc
            if not isinstance(err, TransientError):
                raise err from exc
            attempt += 1
            wait = err.back_off if err.back_off is not None else min(0.05 * 2 ** attempt, 5.0)
            if time.monotonic() - started + wait > max_seconds:
                raise TransientError(f"{what}: gave up after {attempt} attempts ({err.fields.get('error')})",
                                     back_off=wait, error=err.fields.get("error"), attempts=attempt) from exc
            log.info("EWS %s: %s, retrying in %.2fs", what, err.fields.get("error"), wait)
            sleep(wait)


def install_bounded() -> None:
    """Cap every answer exchangelib reads (see :mod:`cirahub.connectors.bounded`) through its
    documented adapter hook, keeping an adapter class someone else installed as the base
    (idempotent)."""
    current = BaseProtocol.HTTP_ADAPTER_CLS
    if getattr(current, "_cirahub_bounded", False):
        return
    base_build = current.build_response

    def build_response(self: Any, req: Any, resp: Any) -> Any:
        response = base_build(self, req, resp)
        # a 401 is a sign-in challenge: NTLM's handshake (requests_ntlm) needs its connection
        # and socket unread (channel binding reads the peer certificate from it): it is capped
        # for when the handler reads it
        if response.status_code == 401:
            return bound_later(response)
        read_response(response)
        return response

    BaseProtocol.HTTP_ADAPTER_CLS = type("BoundedEwsAdapter", (current,), {
        "_cirahub_bounded": True, "build_response": build_response})
