"""msgpack encoding of stored values: aware datetimes as the Timestamp extension type.

Decoding is bounded: msgpack's ``unpackb`` sizes every string, binary, array and map
limit from the length of the buffer it is given, so a corrupt length prefix fails fast
instead of allocating gigabytes, and nesting is capped by msgpack's own stack limit.
"""

from __future__ import annotations

import threading
from typing import Any

import msgpack

from burro.errors import InvalidTaskError

__all__ = ["CorruptRecord", "array_header", "pack", "pack_value", "unpack"]


class CorruptRecord(ValueError):
    """Stored bytes are not the msgpack a record should be."""


class _Packers(threading.local):
    # A Packer is not thread-safe, and building one per call costs as much as packing a
    # small value: each thread keeps its own.
    def __init__(self) -> None:
        self.packer = msgpack.Packer(datetime=True, use_bin_type=True, autoreset=True)


_packers = _Packers()


def pack(value: Any) -> bytes:
    """Encode ``value`` (aware datetimes become msgpack Timestamps)."""
    try:
        return _packers.packer.pack(value)  # type: ignore[no-any-return]
    except BaseException:
        # A failed pack may leave partial output in the buffer: start the next one clean.
        _packers.packer = msgpack.Packer(datetime=True, use_bin_type=True, autoreset=True)
        raise


def array_header(length: int) -> bytes:
    """The msgpack header of an array of ``length`` elements (its elements follow it)."""
    return _packers.packer.pack_array_header(length)  # type: ignore[no-any-return]


def pack_value(value: Any, what: str) -> bytes:
    """Encode a caller's value, or raise :class:`InvalidTaskError` naming ``what``."""
    try:
        return pack(value)
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidTaskError(f"{what} cannot be stored: {error}") from error


def unpack(packed: bytes) -> Any:
    """Decode bytes written by :func:`pack`; :class:`CorruptRecord` if they are not."""
    try:
        return msgpack.unpackb(packed, timestamp=3, raw=False, strict_map_key=False)
    except Exception as error:
        # msgpack raises ValueError, TypeError, FormatError, StackError, ExtraData,
        # UnicodeDecodeError ... depending on how the bytes are broken.
        raise CorruptRecord(f"{type(error).__name__}: {error}") from error
