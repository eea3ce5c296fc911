"""One error hierarchy for all of cirahub.

Every error carries a human message and structured ``fields`` (never secrets). Errors are
raised deep down and translated only at the edges: the gRPC servicer maps ``code`` to a status
code, the CLI maps it to a message and an exit code, a sync run records ``code`` + message.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CirahubError(Exception):
    """Base of every error cirahub raises on purpose.

    ``code`` is a stable machine-readable name (used by the API and in run records);
    ``fields`` are structured details (ids, names, counts), safe to show to an operator.
    """

    code: ClassVar[str] = "internal"
    #: whether retrying the same call later may succeed
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = fields

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "fields": dict(self.fields)}


# --- caller mistakes -----------------------------------------------------------------------


class InvalidInput(CirahubError):
    """Bad input from an operator or API client; nothing was changed."""

    code = "invalid_input"


class NotFound(CirahubError):
    """A named hub, spoke, run, conflict or item does not exist."""

    code = "not_found"


class AlreadyExists(CirahubError):
    """Creating something whose name is taken."""

    code = "already_exists"


class Unauthenticated(CirahubError):
    """Missing or wrong control-plane token."""

    code = "unauthenticated"


class InUse(CirahubError):
    """Something only one process may hold is held by another: a listen address, a data
    folder (another cirahub server runs on it)."""

    code = "in_use"


# --- the store -----------------------------------------------------------------------------


class StoreError(CirahubError):
    """The canonical store failed (connection lost, constraint broken)."""

    code = "store_error"
    retryable = True


class WriterFenced(CirahubError):
    """Another writer took over this hub; this writer's epoch is stale. Stop writing."""

    code = "writer_fenced"


class VersionConflict(CirahubError):
    """A hub item changed between plan and merge (optimistic check failed): re-plan."""

    code = "version_conflict"
    retryable = True


# --- items ---------------------------------------------------------------------------------


class MalformedItem(CirahubError):
    """An item cannot be parsed or normalized. Quarantined; the rest of the run goes on."""

    code = "malformed_item"


# --- connectors (all external I/O) ---------------------------------------------------------


class ConnectorError(CirahubError):
    """A spoke's calendar server or folder failed. ``back_off`` is seconds the server asked
    us to wait, when it said so."""

    code = "connector_error"

    def __init__(self, message: str, *, back_off: float | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.back_off = back_off


class TransientError(ConnectorError):
    """Connection dropped, timeout, 5xx, server busy: retry with back-off."""

    code = "transient"
    retryable = True


class AuthError(ConnectorError):
    """Credentials rejected (HTTP 401/403). Shown to the operator; never retried in a loop."""

    code = "auth_failed"


class SignInFailed(AuthError):
    """The identity platform refused to issue a token (wrong or expired client secret,
    certificate not registered, unknown app or tenant, expired refresh token). ``fields``
    carry ``aadsts`` (the Microsoft error number) and ``advice`` (what the admin should do)."""

    code = "sign_in_failed"


class AdminActionRequired(AuthError):
    """Signed in, but the tenant's configuration stops the spoke until an administrator acts.
    ``fields["advice"]`` says which setting to change, naming the app id where it matters."""

    code = "admin_action_required"


class ConsentMissing(AdminActionRequired):
    """The app has no (admin-consented) permission for what it asked (e.g. EWS
    ``full_access_as_app``, Graph ``Calendars.ReadWrite``)."""

    code = "consent_missing"


class EwsDisabled(AdminActionRequired):
    """EWS is turned off for the whole organization (``Set-OrganizationConfig -EWSEnabled``)."""

    code = "ews_disabled"


class EwsUserDisabled(AdminActionRequired):
    """EWS is turned off for the mailbox the spoke signs in as or opens
    (``Set-CASMailbox -EWSEnabled``)."""

    code = "ews_user_disabled"


class EwsAppNotAllowed(AdminActionRequired):
    """The app id is not in the organization's ``EWSAllowedAppIDs`` allow list."""

    code = "ews_app_not_allowed"


class EwsRetired(AdminActionRequired):
    """Exchange Online no longer serves EWS (final shutdown 2027-04-01): move the calendar to
    a shared-mailbox or group calendar reached through a ``graph`` spoke."""

    code = "ews_retired"


class ConfigError(ConnectorError):
    """The spoke's configuration cannot work (folder not found, URL not a calendar)."""

    code = "config_error"


class ProtocolError(ConnectorError):
    """The server answered something we do not understand."""

    code = "protocol_error"


class ResponseTooLarge(ProtocolError):
    """A server's answer is larger than the configured cap (``limit`` bytes); reading stopped
    there. ``url`` is redacted (no userinfo, no query). Nothing is deleted: the run fails."""

    code = "response_too_large"


class ItemRejected(ConnectorError):
    """The spoke refused one item (a value it cannot hold, a rule of its own). Only that
    item's write failed; the rest of the batch goes on and the item is retried next run."""

    code = "item_rejected"


class NotHeld(ItemRejected):
    """The spoke cannot hold this kind of item at all (a CalDAV collection refusing VFREEBUSY
    or a custom component). Not a failure: the push declares it as the spoke's projection of
    the item ("VFREEBUSY: not written (...)", ``Store.list_projections``) and tries again only
    when the item changes. ``fields["kind"]`` names the component."""

    code = "not_held"


class RemoteNotFound(ConnectorError):
    """The remote item is gone (deleted or moved) — re-pull decides what it means."""

    code = "remote_not_found"


class PreconditionFailed(ConnectorError):
    """The remote version is not the one we expected (stale ETag/ChangeKey): re-pull and
    re-plan, never overwrite."""

    code = "precondition_failed"


class RemoteAlreadyExists(PreconditionFailed):
    """A create found an item already there (same name/UID)."""

    code = "remote_already_exists"


class ReadOnlySpoke(ConnectorError):
    """A write was attempted on a spoke kind that cannot be written (e.g. ``ics-url``)."""

    code = "read_only"


# --- sync safety ---------------------------------------------------------------------------


class SafetyHalt(CirahubError):
    """A spoke's run was halted by a safety check (empty listing, mass delete) and waits for an
    operator's confirmation."""

    code = "safety_halt"


class SpokeHalted(CirahubError):
    """The spoke is halted; confirm (or fix the spoke) before it syncs again."""

    code = "spoke_halted"


def action_required_codes() -> frozenset[str]:
    """The codes of errors only an operator or administrator can clear (AuthError and its
    subclasses: sign-in refused, consent missing, EWS turned off): a spoke whose last run
    ended with one is in state ``action_required``, not merely backing off."""
    out, todo = set(), [AuthError]
    while todo:
        cls = todo.pop()
        out.add(cls.code)
        todo.extend(cls.__subclasses__())
    return frozenset(out)


def error_record(exc: BaseException) -> dict[str, Any]:
    """What a run, a status or a report may say about ``exc``: a CirahubError's own dict (its
    message and fields are written to be shown), else code ``internal`` and the exception's
    *type* only — a library's message may quote anything, secrets included."""
    if isinstance(exc, CirahubError):
        return exc.to_dict()
    return {"code": "internal", "message": f"internal error ({type(exc).__name__})"}
