"""The ACS JSON shapes: one definition used by the server and the SDK.

Request and response bodies of the Chat (2024-03-07 / 2025-03-15) and Identity (2023-10-01) APIs,
as `msgspec` structs, plus the identifier and date-time conventions of the wire protocol
(`shared/spec/acs-wire-protocol.md` §2.2, §4, §5, §8). Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from typing import Any

import msgspec

# -- API versions ----------------------------------------------------------------------------------

CHAT_API_VERSIONS = ("2021-09-07", "2023-11-07", "2024-03-07", "2025-03-15")
"""Chat api-versions Hubbub serves. 2024-03-07 is what azure-communication-chat 1.3.0 sends."""

CHAT_DEFAULT_API_VERSION = "2024-03-07"
CHAT_THREAD_METADATA_VERSION = "2025-03-15"
"""From this version on, threads carry `metadata`/`retentionPolicy` and participants `metadata`."""

IDENTITY_API_VERSIONS = ("2021-03-07", "2022-06-01", "2022-10-01", "2023-08-01", "2023-10-01")
IDENTITY_DEFAULT_API_VERSION = "2023-10-01"

TOKEN_SCOPES = ("chat", "voip", "chat.join", "chat.join.limited", "voip.join")

# -- Date-times ------------------------------------------------------------------------------------


def format_datetime(value: dt.datetime) -> str:
    """Render a date-time the way ACS does: UTC, `Z` suffix, fraction only when non-zero."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    value = value.astimezone(dt.UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=1024)
def _utc_second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def format_micros(micros: int) -> str:
    """Render microseconds since the epoch (the store's time unit) as an ACS date-time.

    The same as `format_datetime` of that instant; every response and event runs it, so the
    seconds part is formatted once per second rather than once per call.
    """
    seconds, fraction = divmod(micros, 1_000_000)
    if fraction:
        return f"{_utc_second(seconds)}.{fraction:06d}".rstrip("0") + "Z"
    return _utc_second(seconds) + "Z"


def parse_datetime(text: str) -> dt.datetime:
    """Parse an ISO 8601 date-time as the SDKs send it; a value without offset is UTC.

    Raises `ValueError` for anything else.
    """
    value = dt.datetime.fromisoformat(text.strip().replace(" ", "+"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def to_micros(value: dt.datetime) -> int:
    """Microseconds since the epoch, for an aware or naive (UTC) datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


MIN_MICROS = to_micros(dt.datetime(1, 1, 1, tzinfo=dt.UTC))
MAX_MICROS = to_micros(dt.datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC))
"""The instants a response can render (`format_micros`): a stored time outside them is refused."""


# -- Identifiers (§4) ------------------------------------------------------------------------------


class CommunicationUserModel(msgspec.Struct, omit_defaults=True):
    id: str


class PhoneNumberModel(msgspec.Struct, omit_defaults=True, rename="camel"):
    value: str
    is_anonymous: bool | None = None
    asserted_id: str | None = None


class MicrosoftTeamsUserModel(msgspec.Struct, omit_defaults=True, rename="camel"):
    user_id: str
    is_anonymous: bool | None = None
    cloud: str | None = None


class MicrosoftTeamsAppModel(msgspec.Struct, omit_defaults=True, rename="camel"):
    app_id: str
    cloud: str | None = None


class CommunicationIdentifierModel(msgspec.Struct, omit_defaults=True, rename="camel"):
    """`CommunicationIdentifierModel`: a raw id plus at most one typed form."""

    raw_id: str | None = None
    kind: str | None = None
    communication_user: CommunicationUserModel | None = None
    phone_number: PhoneNumberModel | None = None
    microsoft_teams_user: MicrosoftTeamsUserModel | None = None
    microsoft_teams_app: MicrosoftTeamsAppModel | None = None


_TEAMS_USER_PREFIXES = {"8:orgid:": "public", "8:dod:": "dod", "8:gcch:": "gcch", "8:teamsvisitor:": None}
_TEAMS_APP_PREFIXES = {"28:orgid:": "public", "28:dod:": "dod", "28:gcch:": "gcch"}
_ACS_USER_PREFIXES = ("8:acs:", "8:dod-acs:", "8:gcch-acs:", "8:spool:")


def identifier_kind(raw_id: str) -> str:
    """The `kind` of an identifier, from its raw id prefix."""
    if raw_id.startswith(_ACS_USER_PREFIXES):
        return "communicationUser"
    if raw_id.startswith("4:"):
        return "phoneNumber"
    if raw_id.startswith(tuple(_TEAMS_USER_PREFIXES)):
        return "microsoftTeamsUser"
    if raw_id.startswith(tuple(_TEAMS_APP_PREFIXES)):
        return "microsoftTeamsApp"
    return "unknown"


def identifier_to_wire(raw_id: str) -> dict[str, Any]:
    """The response form of an identifier: `rawId`, `kind` and the nested typed object.

    Both SDKs need it: Python reads the user id from `rawId`, JS from `communicationUser.id`.
    """
    kind = identifier_kind(raw_id)
    body: dict[str, Any] = {"rawId": raw_id, "kind": kind}
    if kind == "communicationUser":
        body["communicationUser"] = {"id": raw_id}
    elif kind == "phoneNumber":
        body["phoneNumber"] = {"value": raw_id[2:]}
    elif kind == "microsoftTeamsUser":
        for prefix, cloud in _TEAMS_USER_PREFIXES.items():
            if raw_id.startswith(prefix):
                body["microsoftTeamsUser"] = {
                    "userId": raw_id[len(prefix) :],
                    "isAnonymous": cloud is None,
                    "cloud": cloud or "public",
                }
                break
    elif kind == "microsoftTeamsApp":
        for prefix, cloud in _TEAMS_APP_PREFIXES.items():
            if raw_id.startswith(prefix):
                body["microsoftTeamsApp"] = {"appId": raw_id[len(prefix) :], "cloud": cloud}
                break
    return body


def identifier_raw_id(model: CommunicationIdentifierModel) -> str | None:
    """The raw id an identifier model names, derived from its typed form when `rawId` is absent.

    Returns None when the model names nothing usable.
    """
    if model.raw_id:
        return model.raw_id
    if model.communication_user is not None:
        return model.communication_user.id or None
    if model.phone_number is not None:
        return "4:" + model.phone_number.value.lstrip("+") if model.phone_number.value else None
    if model.microsoft_teams_user is not None:
        user = model.microsoft_teams_user
        if user.is_anonymous:
            return "8:teamsvisitor:" + user.user_id
        cloud = (user.cloud or "public").lower()
        prefix = {"public": "8:orgid:", "dod": "8:dod:", "gcch": "8:gcch:"}.get(cloud, "8:orgid:")
        return prefix + user.user_id
    if model.microsoft_teams_app is not None:
        app = model.microsoft_teams_app
        cloud = (app.cloud or "public").lower()
        prefix = {"public": "28:orgid:", "dod": "28:dod:", "gcch": "28:gcch:"}.get(cloud, "28:orgid:")
        return prefix + app.app_id
    return None


# -- Chat requests (§5.1, §14.2) -------------------------------------------------------------------


class ChatParticipantModel(msgspec.Struct, omit_defaults=True, rename="camel"):
    communication_identifier: CommunicationIdentifierModel
    display_name: str | None = None
    share_history_time: dt.datetime | None = None
    metadata: dict[str, str] | None = None


class RetentionPolicyModel(msgspec.Struct, omit_defaults=True, rename="camel"):
    kind: str
    delete_thread_after_days: int | None = None


class CreateChatThreadRequest(msgspec.Struct, omit_defaults=True, rename="camel"):
    topic: str
    participants: list[ChatParticipantModel] | None = None
    metadata: dict[str, str] | None = None
    retention_policy: RetentionPolicyModel | None = None


class UpdateChatThreadRequest(msgspec.Struct, omit_defaults=True, rename="camel"):
    topic: str | None = None
    metadata: dict[str, str] | None = None
    retention_policy: RetentionPolicyModel | None = None


class SendChatMessageRequest(msgspec.Struct, omit_defaults=True, rename="camel"):
    content: str
    sender_display_name: str | None = None
    type: str | None = None
    metadata: dict[str, str] | None = None


class UpdateChatMessageRequest(msgspec.Struct, omit_defaults=True, rename="camel"):
    content: str | None = None
    metadata: dict[str, str] | None = None


class AddChatParticipantsRequest(msgspec.Struct, omit_defaults=True, rename="camel"):
    participants: list[ChatParticipantModel]


class SendTypingNotificationRequest(msgspec.Struct, omit_defaults=True, rename="camel"):
    sender_display_name: str | None = None


class SendReadReceiptRequest(msgspec.Struct, omit_defaults=True, rename="camel"):
    chat_message_id: str


# -- Identity requests (§8) ------------------------------------------------------------------------


class CreateIdentityRequest(msgspec.Struct, omit_defaults=True, rename="camel"):
    create_token_with_scopes: list[str] | None = None
    expires_in_minutes: int | None = None


class IssueTokenRequest(msgspec.Struct, omit_defaults=True, rename="camel"):
    scopes: list[str] | None = None
    expires_in_minutes: int | None = None


class TeamsUserExchangeTokenRequest(msgspec.Struct, omit_defaults=True, rename="camel"):
    token: str
    app_id: str
    user_id: str


# -- Errors (§7) -----------------------------------------------------------------------------------


def error_body(code: str, message: str, target: str | None = None) -> dict[str, Any]:
    """A `CommunicationErrorResponse` body."""
    error: dict[str, Any] = {"code": code, "message": message}
    if target is not None:
        error["target"] = target
    return {"error": error}
