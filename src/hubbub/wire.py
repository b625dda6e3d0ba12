"""The ACS JSON shapes: one definition used by the server and the SDK.

Request and response bodies of the Chat (2024-03-07 / 2025-03-15) and Identity (2023-10-01) APIs,
as `msgspec` structs, plus the identifier and date-time conventions of the wire protocol
(`shared/spec/acs-wire-protocol.md` §2.2, §4, §5, §8). Nothing here does I/O.

The server decodes requests into these structs and renders identifiers and date-times with these
functions; the SDK (`hubbub._sdk`) builds its requests from the same structs, reads raw ids with
`parse_raw_id` and takes its api-versions from here. So this module imports only the standard
library and msgspec (an SDK dependency), never the server.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from typing import Any, NamedTuple, cast

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


def format_request_datetime(value: dt.datetime) -> str:
    """Render a date-time the way the official SDKs send it (msrest iso-8601): UTC, `Z` suffix,
    3 to 6 fraction digits. A naive value is taken as UTC.

    The service (`format_datetime`) drops a zero fraction; the SDKs never do. Both forms are
    ISO 8601, and `parse_datetime` reads either.
    """
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    fraction = f"{value.microsecond:06d}".rstrip("0").ljust(3, "0")
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"


def parse_iso_datetime(text: str) -> dt.datetime:
    """Read an ISO 8601 date-time as it appears in a JSON body (up to 7 fraction digits, as .NET
    writes them); a value without offset stays naive, as the official SDK's `isodate` leaves it.

    Raises `ValueError` for anything else.
    """
    return dt.datetime.fromisoformat(text)


def parse_datetime(text: str) -> dt.datetime:
    """Parse an ISO 8601 date-time as the SDKs send it, in a body or a query string; a value
    without offset is UTC, and a space where the offset's `+` was (a query string decoded it)
    reads as `+`.

    Raises `ValueError` for anything else.
    """
    value = parse_iso_datetime(text.strip().replace(" ", "+"))
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


PHONE_NUMBER_PREFIX = "4:"
ACS_USER_PREFIXES = ("8:acs:", "8:dod-acs:", "8:gcch-acs:", "8:spool:")
"""Communication users (public, DoD and GCCH clouds, and `spool` users); the raw id is the id."""
TEAMS_USER_ANONYMOUS_PREFIX = "8:teamsvisitor:"
TEAMS_USER_PREFIXES = {"public": "8:orgid:", "dod": "8:dod:", "gcch": "8:gcch:"}
TEAMS_APP_PREFIXES = {"public": "28:orgid:", "dod": "28:dod:", "gcch": "28:gcch:"}
"""Teams users and apps by cloud (the wire's lower-case `cloud` values)."""

_TEAMS_USER_CLOUDS = {prefix: cloud for cloud, prefix in TEAMS_USER_PREFIXES.items()}
_TEAMS_APP_CLOUDS = {prefix: cloud for cloud, prefix in TEAMS_APP_PREFIXES.items()}


class RawId(NamedTuple):
    """What a raw id says (spec §4.1): its `kind`, the id inside it and, for Teams, the cloud."""

    kind: str
    """`communicationUser`, `phoneNumber`, `microsoftTeamsUser`, `microsoftTeamsApp` or `unknown`."""
    value: str
    """The user id (the whole raw id), phone number, Teams user id or app id; the raw id if unknown."""
    cloud: str | None = None
    """`public`, `dod` or `gcch` for a Teams user or app, else None (also for an anonymous user)."""
    is_anonymous: bool = False
    """True for a Teams visitor (`8:teamsvisitor:`)."""


@functools.lru_cache(maxsize=4096)
def parse_raw_id(raw_id: str) -> RawId:
    """Split a raw id by its prefix. Every prefix is `<n>:<name>:`, except a phone number's `4:`.

    Cached: a server parses the same few active users' ids on every message and event it builds
    (a `RawId` is an immutable tuple, so sharing one is safe)."""
    if raw_id.startswith(PHONE_NUMBER_PREFIX):
        return RawId("phoneNumber", raw_id[len(PHONE_NUMBER_PREFIX) :])
    first, sep, rest = raw_id.partition(":")
    name, sep2, suffix = rest.partition(":")
    if not (sep and sep2):
        return RawId("unknown", raw_id)
    prefix = f"{first}:{name}:"
    if prefix in ACS_USER_PREFIXES:
        return RawId("communicationUser", raw_id)
    if prefix == TEAMS_USER_ANONYMOUS_PREFIX:
        return RawId("microsoftTeamsUser", suffix, is_anonymous=True)
    if prefix in _TEAMS_USER_CLOUDS:
        return RawId("microsoftTeamsUser", suffix, _TEAMS_USER_CLOUDS[prefix])
    if prefix in _TEAMS_APP_CLOUDS:
        return RawId("microsoftTeamsApp", suffix, _TEAMS_APP_CLOUDS[prefix])
    return RawId("unknown", raw_id)


def phone_number_raw_id(value: str) -> str:
    """The raw id of a phone number (`value` as given: the caller decides about a leading `+`)."""
    return PHONE_NUMBER_PREFIX + value


def teams_user_raw_id(user_id: str, *, cloud: str = "public", is_anonymous: bool = False) -> str:
    """The raw id of a Teams user; an unknown cloud is the public one."""
    if is_anonymous:
        return TEAMS_USER_ANONYMOUS_PREFIX + user_id
    return TEAMS_USER_PREFIXES.get(cloud, TEAMS_USER_PREFIXES["public"]) + user_id


def teams_app_raw_id(app_id: str, *, cloud: str = "public") -> str:
    """The raw id of a Teams app; an unknown cloud is the public one."""
    return TEAMS_APP_PREFIXES.get(cloud, TEAMS_APP_PREFIXES["public"]) + app_id


def identifier_kind(raw_id: str) -> str:
    """The `kind` of an identifier, from its raw id prefix."""
    return parse_raw_id(raw_id).kind


def identifier_model(raw_id: str) -> CommunicationIdentifierModel:
    """The response form of an identifier: `rawId`, `kind` and the typed object the raw id names."""
    parsed = parse_raw_id(raw_id)
    model = CommunicationIdentifierModel(raw_id=raw_id, kind=parsed.kind)
    if parsed.kind == "communicationUser":
        model.communication_user = CommunicationUserModel(id=raw_id)
    elif parsed.kind == "phoneNumber":
        model.phone_number = PhoneNumberModel(value=parsed.value)
    elif parsed.kind == "microsoftTeamsUser":
        model.microsoft_teams_user = MicrosoftTeamsUserModel(
            user_id=parsed.value, is_anonymous=parsed.is_anonymous, cloud=parsed.cloud or "public"
        )
    elif parsed.kind == "microsoftTeamsApp":
        model.microsoft_teams_app = MicrosoftTeamsAppModel(app_id=parsed.value, cloud=parsed.cloud)
    return model


def identifier_to_wire(raw_id: str) -> dict[str, Any]:
    """`identifier_model` as a JSON-ready dict.

    Both SDKs need the typed object: Python reads the user id from `rawId`, JS from `communicationUser.id`.
    """
    return cast(dict[str, Any], msgspec.to_builtins(identifier_model(raw_id)))


def identifier_raw_id(model: CommunicationIdentifierModel) -> str | None:
    """The raw id an identifier model names, derived from its typed form when `rawId` is absent.

    Returns None when the model names nothing usable. Clouds are read case-insensitively, and a
    phone number's leading `+` is dropped.
    """
    if model.raw_id:
        return model.raw_id
    if model.communication_user is not None:
        return model.communication_user.id or None
    if model.phone_number is not None:
        value = model.phone_number.value
        return phone_number_raw_id(value.lstrip("+")) if value else None
    if model.microsoft_teams_user is not None:
        user = model.microsoft_teams_user
        cloud = (user.cloud or "public").lower()
        return teams_user_raw_id(user.user_id, cloud=cloud, is_anonymous=bool(user.is_anonymous))
    if model.microsoft_teams_app is not None:
        app = model.microsoft_teams_app
        return teams_app_raw_id(app.app_id, cloud=(app.cloud or "public").lower())
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
