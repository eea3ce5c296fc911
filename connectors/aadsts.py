"""Microsoft identity platform (AADSTS) refusals → the project's errors, with advice.

The token endpoint answers a refusal as JSON ``{"error", "error_description", "error_codes"}``;
``error_description`` starts ``AADSTSnnnn: ...`` and carries trace ids. The errors made here
keep the number and a sentence telling the administrator what to change; the description is
cut to its first sentence (it never holds a secret, but it is long).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cirahub.core.errors import AuthError, ConsentMissing, SignInFailed

_CODE = re.compile(r"AADSTS(\d{5,8})")

#: AADSTS number → (what happened, what the administrator should do); {app} and {tenant}
#: are filled in
ADVICE: dict[int, tuple[str, str]] = {
    7000215: ("the client secret is wrong",
              "use the secret's Value (not its Secret ID) from App registrations → {app} → "
              "Certificates & secrets, and update the spoke (--client-secret-env)"),
    7000222: ("the client secret has expired",
              "create a new client secret for app {app} and update the spoke"),
    700027: ("the certificate's signature was not accepted",
             "upload the certificate (public part) to App registrations → {app} → Certificates & "
             "secrets, or point --certificate at the matching key"),
    700016: ("the application was not found in the tenant",
             "check --client-id {app} and --tenant {tenant}; an admin of {tenant} must consent to "
             "the app first"),
    90002: ("the tenant was not found", "check --tenant {tenant} (a tenant id or a verified domain)"),
    7000218: ("no client secret or certificate was sent",
              "give the spoke --client-secret-env or --certificate"),
    65001: ("the app has no consent for the permission it asked",
            "an admin of {tenant} must grant admin consent to app {app} (API permissions → Grant "
            "admin consent)"),
    70011: ("the scope asked for is not valid", "check the app's API permissions"),
    700082: ("the stored refresh token expired (not used for too long)",
             "run `cirahubctl login` for this spoke again"),
    70000: ("the stored refresh token was revoked or is invalid",
            "run `cirahubctl login` for this spoke again"),
    70008: ("the stored refresh token has expired", "run `cirahubctl login` for this spoke again"),
    50126: ("the user name or password is wrong", "sign in again with `cirahubctl login`"),
}

#: device-code outcomes (OAuth error names, no AADSTS number of their own)
_DEVICE: dict[str, tuple[str, str]] = {
    "authorization_declined": ("the sign-in was declined", "run `cirahubctl login` again and accept"),
    "expired_token": ("the device code expired before the sign-in finished",
                      "run `cirahubctl login` again and finish within the time shown"),
    "authorization_pending": ("the sign-in did not finish in time", "run `cirahubctl login` again"),
}


def first_code(text: str) -> int | None:
    match = _CODE.search(text or "")
    return int(match.group(1)) if match else None


def _code(result: Mapping[str, Any]) -> int | None:
    codes = result.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int):
        return codes[0]
    return first_code(str(result.get("error_description", "")))


def to_error(result: Mapping[str, Any], tenant: str, client_id: str) -> AuthError:
    """The error for a refusal ``result`` (msal's result dict or a token endpoint answer)."""
    code = _code(result)
    name = str(result.get("error") or "unknown_error")
    what, advice = ADVICE.get(code or -1) or _DEVICE.get(name) or (
        f"the identity platform refused the sign-in ({name})", "check the app registration")
    advice = advice.format(app=client_id, tenant=tenant)
    first = str(result.get("error_description", "")).split("\r\n")[0].split(". ")[0][:200]
    fields: dict[str, Any] = {"aadsts": code, "error": name, "tenant": tenant,
                              "client_id": client_id, "advice": advice}
    if first:
        fields["detail"] = first
    label = f"AADSTS{code}: " if code else ""
    cls = ConsentMissing if code == 65001 else SignInFailed
    return cls(f"sign-in to tenant {tenant} as app {client_id} failed: {label}{what}; {advice}",
               **fields)
