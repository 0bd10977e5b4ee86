"""Errors raised while reading or writing Crypt4GH data.

Every message is written for the person who sent or asked for the file: callers can show
`str(error)` as it is (no keys, no internals).
"""


class Crypt4GHError(Exception):
    """Base class; `str()` is a message a person can act on."""

    default_message = "The Crypt4GH data could not be processed."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return self.args[0]


class NotCrypt4GH(Crypt4GHError):
    default_message = "This is not a Crypt4GH file (it does not start with the Crypt4GH magic bytes and version 1)."


class NotForOurKey(Crypt4GHError):
    default_message = "The file is not encrypted for any archive key; encrypt it with the archive's public key."


class TruncatedFile(Crypt4GHError):
    default_message = "The Crypt4GH file is truncated: it ends in the middle of a header packet or a data segment."


class SegmentAuthenticationError(Crypt4GHError):
    """A data segment failed its Poly1305 check (damaged, tampered, or under another key)."""

    def __init__(self, segment_index: int, message: str | None = None):
        self.segment_index = segment_index
        super().__init__(message or f"segment {segment_index} fails authentication")


class InvalidKey(Crypt4GHError):
    default_message = "The Crypt4GH key is not valid."


class UnsupportedHeader(Crypt4GHError):
    default_message = "The Crypt4GH header uses a feature this archive does not support."


class RangeNotSatisfiable(Crypt4GHError, ValueError):
    """The requested plaintext range starts at or after the end of the file."""

    default_message = "The requested range starts after the end of the file."
