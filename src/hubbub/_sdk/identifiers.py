"""Communication identifiers, with the names and behaviour of the official ACS SDKs.

The classes mirror `azure.communication.chat._shared.models` (1.3.0), which the identity SDK ships
as an identical copy; `serialize_identifier` / `deserialize_identifier` turn them into and out of
the wire's `CommunicationIdentifierModel` (spec §4).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from enum import Enum
from typing import Any, Literal, Protocol, TypedDict, cast, runtime_checkable

from azure.core import CaseInsensitiveEnumMeta


class _DeprecatedEnumMeta(CaseInsensitiveEnumMeta):
    """Maps the deprecated `MICROSOFT_BOT` member to `MICROSOFT_TEAMS_APP`, with a warning."""

    def __getattribute__(cls, item: str) -> Any:
        if item.upper() == "MICROSOFT_BOT":
            warnings.warn(
                "MICROSOFT_BOT is deprecated and has been replaced by MICROSOFT_TEAMS_APP identifier.",
                DeprecationWarning,
                stacklevel=2,
            )
            item = "MICROSOFT_TEAMS_APP"
        return super().__getattribute__(item)


class CommunicationIdentifierKind(str, Enum, metaclass=_DeprecatedEnumMeta):  # noqa: UP042 - str+Enum like the official SDK, so str() matches
    """Communication Identifier Kind.

    For checking yet unknown identifiers it is better to rely on the presence of the `raw_id`
    property, as new or existing distinct type identifiers always contain the `raw_id` property.
    """

    UNKNOWN = "unknown"
    COMMUNICATION_USER = "communication_user"
    PHONE_NUMBER = "phone_number"
    MICROSOFT_TEAMS_USER = "microsoft_teams_user"
    MICROSOFT_TEAMS_APP = "microsoft_teams_app"


class CommunicationCloudEnvironment(str, Enum, metaclass=CaseInsensitiveEnumMeta):  # noqa: UP042 - str+Enum like the official SDK, so str() matches
    """The cloud environment that the identifier belongs to."""

    PUBLIC = "PUBLIC"
    DOD = "DOD"
    GCCH = "GCCH"


@runtime_checkable
class CommunicationIdentifier(Protocol):
    """Communication Identifier: anything with a `raw_id`, a `kind` and `properties`."""

    @property
    def raw_id(self) -> str:
        """The raw ID of the identifier."""
        ...

    @property
    def kind(self) -> CommunicationIdentifierKind:
        """The type of identifier."""
        ...

    @property
    def properties(self) -> Mapping[str, Any]:
        """The properties of the identifier."""
        ...


PHONE_NUMBER_PREFIX = "4:"
TEAMS_APP_PUBLIC_CLOUD_PREFIX = "28:orgid:"
TEAMS_APP_DOD_CLOUD_PREFIX = "28:dod:"
TEAMS_APP_GCCH_CLOUD_PREFIX = "28:gcch:"
TEAMS_USER_ANONYMOUS_PREFIX = "8:teamsvisitor:"
TEAMS_USER_PUBLIC_CLOUD_PREFIX = "8:orgid:"
TEAMS_USER_DOD_CLOUD_PREFIX = "8:dod:"
TEAMS_USER_GCCH_CLOUD_PREFIX = "8:gcch:"
ACS_USER_PREFIX = "8:acs:"
ACS_USER_DOD_CLOUD_PREFIX = "8:dod-acs:"
ACS_USER_GCCH_CLOUD_PREFIX = "8:gcch-acs:"
SPOOL_USER_PREFIX = "8:spool:"


class CommunicationUserProperties(TypedDict):
    """Dictionary of properties for a CommunicationUserIdentifier."""

    id: str
    """ID of the Communication user as returned from Azure Communication Identity."""


class CommunicationUserIdentifier:
    """Represents a user in Azure Communication Service."""

    kind: Literal[CommunicationIdentifierKind.COMMUNICATION_USER] = CommunicationIdentifierKind.COMMUNICATION_USER
    """The type of identifier."""
    properties: CommunicationUserProperties
    """The properties of the identifier."""
    raw_id: str
    """The raw ID of the identifier."""

    def __init__(self, id: str, **kwargs: Any) -> None:
        """Create the identifier.

        :param str id: ID of the Communication user as returned from Azure Communication Identity.
        :keyword str raw_id: The raw ID of the identifier. If not specified, the 'id' value will be used.
        """
        self.properties = CommunicationUserProperties(id=id)
        raw_id: str | None = kwargs.get("raw_id")
        self.raw_id = raw_id if raw_id is not None else id

    def __eq__(self, other: object) -> bool:
        try:
            if other.raw_id:  # type: ignore[attr-defined]
                return bool(self.raw_id == other.raw_id)  # type: ignore[attr-defined]
            return bool(self.raw_id == other.properties["id"])  # type: ignore[attr-defined]
        except Exception:
            return False

    __hash__ = None  # type: ignore[assignment]  # like the official class: __eq__ without __hash__

    def __repr__(self) -> str:
        return f"CommunicationUserIdentifier({self.properties['id']!r})"


class PhoneNumberProperties(TypedDict):
    """Dictionary of properties for a PhoneNumberIdentifier."""

    value: str
    """The phone number in E.164 format."""


class PhoneNumberIdentifier:
    """Represents a phone number."""

    kind: Literal[CommunicationIdentifierKind.PHONE_NUMBER] = CommunicationIdentifierKind.PHONE_NUMBER
    """The type of identifier."""
    properties: PhoneNumberProperties
    """The properties of the identifier."""
    raw_id: str
    """The raw ID of the identifier."""

    def __init__(self, value: str, **kwargs: Any) -> None:
        """Create the identifier.

        :param str value: The phone number.
        :keyword str raw_id: The raw ID of the identifier. If not specified, this will be constructed
          from the 'value' parameter.
        """
        self.properties = PhoneNumberProperties(value=value)
        raw_id: str | None = kwargs.get("raw_id")
        self.raw_id = raw_id if raw_id is not None else self._format_raw_id(self.properties)

    def __eq__(self, other: object) -> bool:
        try:
            if other.raw_id:  # type: ignore[attr-defined]
                return bool(self.raw_id == other.raw_id)  # type: ignore[attr-defined]
            return self.raw_id == self._format_raw_id(other.properties)  # type: ignore[attr-defined]
        except Exception:
            return False

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PhoneNumberIdentifier({self.properties['value']!r})"

    def _format_raw_id(self, properties: PhoneNumberProperties) -> str:
        return f"{PHONE_NUMBER_PREFIX}{properties['value']}"


class UnknownIdentifier:
    """Represents an identifier of an unknown type.

    It will be encountered in communications with endpoints that are not identifiable by this
    version of the SDK. Rely on `raw_id`, not on `kind`.
    """

    kind: Literal[CommunicationIdentifierKind.UNKNOWN] = CommunicationIdentifierKind.UNKNOWN
    """The type of identifier."""
    properties: Mapping[str, Any]
    """The properties of the identifier."""
    raw_id: str
    """The raw ID of the identifier."""

    def __init__(self, identifier: str) -> None:
        """Create the identifier.

        :param str identifier: The ID of the identifier.
        """
        self.raw_id = identifier
        self.properties = {}

    def __eq__(self, other: object) -> bool:
        try:
            return bool(self.raw_id == other.raw_id)  # type: ignore[attr-defined]
        except AttributeError:
            return False

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"UnknownIdentifier({self.raw_id!r})"


class MicrosoftTeamsUserProperties(TypedDict):
    """Dictionary of properties for a MicrosoftTeamsUserIdentifier."""

    user_id: str
    """The id of the Microsoft Teams user (the AAD object id unless anonymous)."""
    is_anonymous: bool
    """True if the user is anonymous, for example when joining a meeting with a share link."""
    cloud: CommunicationCloudEnvironment | str
    """Cloud environment that this identifier belongs to."""


class MicrosoftTeamsUserIdentifier:
    """Represents an identifier for a Microsoft Teams user."""

    kind: Literal[CommunicationIdentifierKind.MICROSOFT_TEAMS_USER] = CommunicationIdentifierKind.MICROSOFT_TEAMS_USER
    """The type of identifier."""
    properties: MicrosoftTeamsUserProperties
    """The properties of the identifier."""
    raw_id: str
    """The raw ID of the identifier."""

    def __init__(self, user_id: str, **kwargs: Any) -> None:
        """Create the identifier.

        :param str user_id: Microsoft Teams user id.
        :keyword bool is_anonymous: `True` if the identifier is anonymous. Default value is `False`.
        :keyword cloud: Cloud environment that the user belongs to. Default value is `PUBLIC`.
        :keyword str raw_id: The raw ID of the identifier. If not specified, this value will be
         constructed from the other properties.
        """
        self.properties = MicrosoftTeamsUserProperties(
            user_id=user_id,
            is_anonymous=kwargs.get("is_anonymous", False),
            cloud=kwargs.get("cloud") or CommunicationCloudEnvironment.PUBLIC,
        )
        raw_id: str | None = kwargs.get("raw_id")
        self.raw_id = raw_id if raw_id is not None else self._format_raw_id(self.properties)

    def __eq__(self, other: object) -> bool:
        try:
            if other.raw_id:  # type: ignore[attr-defined]
                return bool(self.raw_id == other.raw_id)  # type: ignore[attr-defined]
            return self.raw_id == self._format_raw_id(other.properties)  # type: ignore[attr-defined]
        except Exception:
            return False

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MicrosoftTeamsUserIdentifier({self.properties['user_id']!r}, raw_id={self.raw_id!r})"

    def _format_raw_id(self, properties: MicrosoftTeamsUserProperties) -> str:
        user_id = properties["user_id"]
        if properties["is_anonymous"]:
            return f"{TEAMS_USER_ANONYMOUS_PREFIX}{user_id}"
        cloud = properties["cloud"]
        if cloud == CommunicationCloudEnvironment.DOD:
            return f"{TEAMS_USER_DOD_CLOUD_PREFIX}{user_id}"
        if cloud == CommunicationCloudEnvironment.GCCH:
            return f"{TEAMS_USER_GCCH_CLOUD_PREFIX}{user_id}"
        return f"{TEAMS_USER_PUBLIC_CLOUD_PREFIX}{user_id}"


class MicrosoftTeamsAppProperties(TypedDict):
    """Dictionary of properties for a MicrosoftTeamsAppIdentifier."""

    app_id: str
    """The id of the Microsoft Teams application."""
    cloud: CommunicationCloudEnvironment | str
    """Cloud environment that this identifier belongs to."""


class _BotBackCompatDict(dict[str, Any]):
    """Answers the pre-rename keys `bot_id` and `is_resource_account_configured`."""

    def __getitem__(self, key: str) -> Any:
        try:
            return super().__getitem__(key)
        except KeyError:
            if key == "bot_id":
                return super().__getitem__("app_id")
            if key == "is_resource_account_configured":
                return True
            raise


class MicrosoftTeamsAppIdentifier:
    """Represents an identifier for a Microsoft Teams application."""

    kind: Literal[CommunicationIdentifierKind.MICROSOFT_TEAMS_APP] = CommunicationIdentifierKind.MICROSOFT_TEAMS_APP
    """The type of identifier."""
    properties: MicrosoftTeamsAppProperties
    """The properties of the identifier."""
    raw_id: str
    """The raw ID of the identifier."""

    def __init__(self, app_id: str, **kwargs: Any) -> None:
        """Create the identifier.

        :param str app_id: Microsoft Teams application id.
        :keyword cloud: Cloud environment that the application belongs to. Default value is `PUBLIC`.
        :keyword str raw_id: The raw ID of the identifier. If not specified, this value will be
         constructed from the other properties.
        """
        self.properties = cast(
            MicrosoftTeamsAppProperties,
            _BotBackCompatDict(app_id=app_id, cloud=kwargs.get("cloud") or CommunicationCloudEnvironment.PUBLIC),
        )
        raw_id: str | None = kwargs.get("raw_id")
        self.raw_id = raw_id if raw_id is not None else self._format_raw_id(self.properties)

    def __eq__(self, other: object) -> bool:
        try:
            if other.raw_id:  # type: ignore[attr-defined]
                return bool(self.raw_id == other.raw_id)  # type: ignore[attr-defined]
            return self.raw_id == self._format_raw_id(other.properties)  # type: ignore[attr-defined]
        except Exception:
            return False

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MicrosoftTeamsAppIdentifier({self.properties['app_id']!r}, raw_id={self.raw_id!r})"

    def _format_raw_id(self, properties: MicrosoftTeamsAppProperties) -> str:
        app_id = properties["app_id"]
        cloud = properties["cloud"]
        if cloud == CommunicationCloudEnvironment.DOD:
            return f"{TEAMS_APP_DOD_CLOUD_PREFIX}{app_id}"
        if cloud == CommunicationCloudEnvironment.GCCH:
            return f"{TEAMS_APP_GCCH_CLOUD_PREFIX}{app_id}"
        return f"{TEAMS_APP_PUBLIC_CLOUD_PREFIX}{app_id}"


_TEAMS_USER_CLOUDS = {
    TEAMS_USER_PUBLIC_CLOUD_PREFIX: CommunicationCloudEnvironment.PUBLIC,
    TEAMS_USER_DOD_CLOUD_PREFIX: CommunicationCloudEnvironment.DOD,
    TEAMS_USER_GCCH_CLOUD_PREFIX: CommunicationCloudEnvironment.GCCH,
}
_TEAMS_APP_CLOUDS = {
    TEAMS_APP_PUBLIC_CLOUD_PREFIX: CommunicationCloudEnvironment.PUBLIC,
    TEAMS_APP_DOD_CLOUD_PREFIX: CommunicationCloudEnvironment.DOD,
    TEAMS_APP_GCCH_CLOUD_PREFIX: CommunicationCloudEnvironment.GCCH,
}
_ACS_PREFIXES = (ACS_USER_PREFIX, ACS_USER_DOD_CLOUD_PREFIX, ACS_USER_GCCH_CLOUD_PREFIX, SPOOL_USER_PREFIX)


def identifier_from_raw_id(raw_id: str) -> CommunicationIdentifier:
    """Creates a CommunicationIdentifier from a given raw ID.

    When storing raw IDs use this function to restore the identifier that was encoded in the raw ID.

    :param str raw_id: A raw ID to construct the CommunicationIdentifier from.
    :return: The CommunicationIdentifier parsed from the raw_id.
    :rtype: CommunicationIdentifier
    """
    if raw_id.startswith(PHONE_NUMBER_PREFIX):
        return PhoneNumberIdentifier(value=raw_id[len(PHONE_NUMBER_PREFIX) :], raw_id=raw_id)
    segments = raw_id.split(":", maxsplit=2)
    if len(segments) < 3:
        return UnknownIdentifier(identifier=raw_id)
    prefix = f"{segments[0]}:{segments[1]}:"
    suffix = segments[2]
    if prefix == TEAMS_USER_ANONYMOUS_PREFIX:
        return MicrosoftTeamsUserIdentifier(user_id=suffix, is_anonymous=True, raw_id=raw_id)
    if prefix in _TEAMS_USER_CLOUDS:
        return MicrosoftTeamsUserIdentifier(
            user_id=suffix, is_anonymous=False, cloud=_TEAMS_USER_CLOUDS[prefix], raw_id=raw_id
        )
    if prefix in _TEAMS_APP_CLOUDS:
        return MicrosoftTeamsAppIdentifier(app_id=suffix, cloud=_TEAMS_APP_CLOUDS[prefix], raw_id=raw_id)
    if prefix in _ACS_PREFIXES:
        return CommunicationUserIdentifier(id=raw_id, raw_id=raw_id)
    return UnknownIdentifier(identifier=raw_id)


# -- wire form (spec §4) -----------------------------------------------------------------------------

_WIRE_KEYS = {
    CommunicationIdentifierKind.COMMUNICATION_USER: "communicationUser",
    CommunicationIdentifierKind.PHONE_NUMBER: "phoneNumber",
    CommunicationIdentifierKind.MICROSOFT_TEAMS_USER: "microsoftTeamsUser",
    CommunicationIdentifierKind.MICROSOFT_TEAMS_APP: "microsoftTeamsApp",
}
_WIRE_PROPERTY_NAMES = {"user_id": "userId", "is_anonymous": "isAnonymous", "app_id": "appId"}


def serialize_identifier(identifier: CommunicationIdentifier) -> dict[str, Any]:
    """The request form of an identifier, as the official SDK sends it: `rawId` plus the typed object.

    Raises `TypeError` for an object that is not an identifier.
    """
    try:
        body: dict[str, Any] = {"rawId": identifier.raw_id}
        kind = identifier.kind
        properties = identifier.properties
    except AttributeError:
        raise TypeError("Unsupported identifier type " + identifier.__class__.__name__) from None
    key = _WIRE_KEYS.get(kind) if kind else None
    if key is not None:
        body[key] = {
            _WIRE_PROPERTY_NAMES.get(name, name): value.value if isinstance(value, Enum) else value
            for name, value in dict(properties).items()
        }
    return body


def deserialize_identifier(model: Mapping[str, Any]) -> CommunicationIdentifier:
    """An identifier from its response form; the typed object decides the class, `rawId` the id.

    Matches the official `deserialize_identifier`: a `communicationUser` takes its id from `rawId`,
    and anything but a user, phone number or Teams user becomes an `UnknownIdentifier`.
    """
    raw_id = model.get("rawId")
    if model.get("communicationUser"):
        return CommunicationUserIdentifier(cast(str, raw_id), raw_id=raw_id)
    phone = model.get("phoneNumber")
    if phone:
        return PhoneNumberIdentifier(phone.get("value"), raw_id=raw_id)
    teams = model.get("microsoftTeamsUser")
    if teams:
        return MicrosoftTeamsUserIdentifier(
            raw_id=raw_id,
            user_id=teams.get("userId"),
            is_anonymous=teams.get("isAnonymous"),
            cloud=teams.get("cloud"),
        )
    return UnknownIdentifier(cast(str, raw_id))


def identifier_id(identifier: CommunicationIdentifier) -> str:
    """The id a user identifier names (`properties['id']`), as the official SDK reads it.

    Raises `KeyError` for identifiers that are not communication users, like the official SDK.
    """
    return cast(str, identifier.properties["id"])
