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


class InvalidList(RequestRefused):
    """A campaign's list or times that cannot make a campaign (api.md §8)."""


class InvalidName(RequestRefused):
    """A name given to a campaign or a voice that cannot be kept (calls/names.py)."""


class VoiceInUse(RequestRefused):
    pass


class InsufficientBalance(RequestRefused):
    pass


class DoNotCall(RequestRefused):
    """A number on a do-not-call list that stops this call (api.md §9)."""


class InvalidText(RequestRefused):
    """Text for speech that cannot be spoken (bad language, length, nothing to say)."""


class SpeechUnavailable(RequestRefused):
    """The speech synthesizer is missing or failing: an operator's problem, not the client's."""


class OverStorageQuota(RequestRefused):
    """The project's voice files would pass its storage quota."""


class AdminRefused(Exception):
    """What an operator's change to projects, tokens, dialers or money is refused for (the
    CLI prints `message`; the API never raises it)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
