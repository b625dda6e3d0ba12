"""Communication identifiers, with the names and behaviour of the official ACS SDKs.

The classes mirror `azure.communication.chat._shared.models` (1.3.0), which the identity SDK ships
as an identical copy; `serialize_identifier` / `deserialize_identifier` turn them into and out of
the wire's `CommunicationIdentifierModel` (spec §4). The raw-id prefixes and how a raw id is read
are the wire's (`hubbub.wire.parse_raw_id`), shared with the server.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from enum import Enum
from typing import Any, Literal, Protocol, TypedDict, cast, runtime_checkable

from azure.core import CaseInsensitiveEnumMeta

from hubbub import wire


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
        return wire.phone_number_raw_id(properties["value"])


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
        return wire.teams_user_raw_id(
            properties["user_id"], cloud=_wire_cloud(properties["cloud"]), is_anonymous=bool(properties["is_anonymous"])
        )


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
        return wire.teams_app_raw_id(properties["app_id"], cloud=_wire_cloud(properties["cloud"]))


def _wire_cloud(cloud: CommunicationCloudEnvironment | str) -> str:
    """The wire's cloud name. Like the official SDK, only the enum's exact values are DoD or GCCH."""
    if cloud == CommunicationCloudEnvironment.DOD:
        return "dod"
    if cloud == CommunicationCloudEnvironment.GCCH:
        return "gcch"
    return "public"


_CLOUDS = {
    "public": CommunicationCloudEnvironment.PUBLIC,
    "dod": CommunicationCloudEnvironment.DOD,
    "gcch": CommunicationCloudEnvironment.GCCH,
}


def identifier_from_raw_id(raw_id: str) -> CommunicationIdentifier:
    """Creates a CommunicationIdentifier from a given raw ID.

    When storing raw IDs use this function to restore the identifier that was encoded in the raw ID.

    :param str raw_id: A raw ID to construct the CommunicationIdentifier from.
    :return: The CommunicationIdentifier parsed from the raw_id.
    :rtype: CommunicationIdentifier
    """
    parsed = wire.parse_raw_id(raw_id)
    if parsed.kind == "phoneNumber":
        return PhoneNumberIdentifier(value=parsed.value, raw_id=raw_id)
    if parsed.kind == "microsoftTeamsUser" and parsed.is_anonymous:
        return MicrosoftTeamsUserIdentifier(user_id=parsed.value, is_anonymous=True, raw_id=raw_id)
    if parsed.kind == "microsoftTeamsUser":
        return MicrosoftTeamsUserIdentifier(
            user_id=parsed.value, is_anonymous=False, cloud=_CLOUDS[cast(str, parsed.cloud)], raw_id=raw_id
        )
    if parsed.kind == "microsoftTeamsApp":
        return MicrosoftTeamsAppIdentifier(app_id=parsed.value, cloud=_CLOUDS[cast(str, parsed.cloud)], raw_id=raw_id)
    if parsed.kind == "communicationUser":
        return CommunicationUserIdentifier(id=raw_id, raw_id=raw_id)
    return UnknownIdentifier(identifier=raw_id)


# -- wire form (spec §4) -----------------------------------------------------------------------------


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def serialize_identifier(identifier: CommunicationIdentifier) -> wire.CommunicationIdentifierModel:
    """The request form of an identifier, as the official SDK sends it: `rawId` plus the typed object
    its `kind` names, filled from its `properties`.

    Raises `TypeError` for an object that is not an identifier.
    """
    try:
        model = wire.CommunicationIdentifierModel(raw_id=identifier.raw_id)
        kind = identifier.kind
        properties = dict(identifier.properties)
    except AttributeError:
        raise TypeError("Unsupported identifier type " + identifier.__class__.__name__) from None
    if kind == CommunicationIdentifierKind.COMMUNICATION_USER:
        model.communication_user = wire.CommunicationUserModel(id=properties.get("id"))  # type: ignore[arg-type]
    elif kind == CommunicationIdentifierKind.PHONE_NUMBER:
        model.phone_number = wire.PhoneNumberModel(value=properties.get("value"))  # type: ignore[arg-type]
    elif kind == CommunicationIdentifierKind.MICROSOFT_TEAMS_USER:
        model.microsoft_teams_user = wire.MicrosoftTeamsUserModel(
            user_id=properties.get("user_id"),  # type: ignore[arg-type]
            is_anonymous=properties.get("is_anonymous"),
            cloud=_enum_value(properties.get("cloud")),
        )
    elif kind == CommunicationIdentifierKind.MICROSOFT_TEAMS_APP:
        model.microsoft_teams_app = wire.MicrosoftTeamsAppModel(
            app_id=properties.get("app_id"),  # type: ignore[arg-type]
            cloud=_enum_value(properties.get("cloud")),
        )
    return model


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
