"""The errors the core raises on purpose. Each carries a message meant for the user.

Anything else escaping the core is a bug; the GUI and CLI show these messages as they are.
"""


class SizeLabError(Exception):
    """An expected failure: the message says what happened and what to try."""


class Cancelled(SizeLabError):
    """The user cancelled; raised between steps by CancelToken.check()."""

    def __init__(self, message: str = "Cancelled."):
        super().__init__(message)


class InputError(SizeLabError):
    """The text or options given cannot be used as they are."""


class ModelSourceError(SizeLabError):
    """A model could not be found, downloaded or read."""


class UnsupportedModelError(SizeLabError):
    """The model exists but cannot do what was asked (task, architecture, variant)."""


class UnsafeModelError(SizeLabError):
    """The checkpoint would run code or unpickle data without the user's consent."""


class DeviceError(SizeLabError):
    """The device is missing, failing or cannot run this variant."""


class OutOfMemoryError(SizeLabError):
    """The device ran out of memory; the model was released."""

    ADVICE = "Try a smaller batch or shorter text, int8, fewer layers, or the CPU."

    def __init__(self, where: str):
        super().__init__(f"Out of memory {where}. {self.ADVICE}")
