"""What a call or voice request can be refused for. The API maps each to its error code."""

from __future__ import annotations


class RequestRefused(Exception):
    """Base: `message` names the field and the rule it broke."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidPhoneNumberError(RequestRefused):
    pass


class InvalidServer(RequestRefused):
    pass


class InvalidVoice(RequestRefused):
    pass


class InvalidFile(RequestRefused):
    pass


class FileTooLarge(RequestRefused):
    pass


class NotFound(RequestRefused):
    pass


class VoiceInUse(RequestRefused):
    pass


class InsufficientBalance(RequestRefused):
    pass
