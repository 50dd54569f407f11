"""Key layouts of the LMDB store: fixed-width big-endian numbers, so byte order is value order.

Signed numbers (priorities, microsecond times) are stored with their sign bit flipped
(``value + 2**63`` as an unsigned 64-bit integer), which keeps negative values sorting
before positive ones. Every job key ends with the job's 64-bit insertion sequence, so ties
are broken by insertion order.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime, timedelta

from burro.states import TaskState

__all__ = [
    "BY_STATE",
    "COUNT",
    "FAILED_DAY",
    "READY",
    "STATES_BY_CODE",
    "STATE_CODES",
    "U32",
    "U64",
    "bounded",
    "claim_prefix",
    "day_number",
    "fire_key",
    "fire_prefix",
    "from_micros",
    "job_id",
    "length_prefixed",
    "micros",
    "parse_job_id",
    "signed",
    "unique_prefix",
    "unsigned",
]

U64 = struct.Struct(">Q")
U32 = struct.Struct(">I")
#: ready index: (queue id, priority, scheduled_at, seq) - the claim order.
READY = struct.Struct(">IQQQ")
#: by-state and by-time indexes: (state, queue id, time, seq).
BY_STATE = struct.Struct(">BIQQ")
#: counters: (queue id, state) -> jobs in that state.
COUNT = struct.Struct(">IB")
#: failed attempts: (UTC day number, queue id) -> count.
FAILED_DAY = struct.Struct(">II")

#: One byte per state, in lifecycle order (stable on disk: never renumber).
STATE_CODES: dict[TaskState, int] = {
    TaskState.SCHEDULED: 0,
    TaskState.PENDING: 1,
    TaskState.RUNNING: 2,
    TaskState.RETRYABLE: 3,
    TaskState.COMPLETED: 4,
    TaskState.DISCARDED: 5,
    TaskState.CANCELLED: 6,
}
STATES_BY_CODE: dict[int, TaskState] = {code: state for state, code in STATE_CODES.items()}

_SIGN = 1 << 63
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
#: Longest text kept verbatim in a key; longer text is hashed (LMDB keys stop at 511 bytes).
_MAX_VERBATIM = 200


def signed(value: int) -> int:
    """A signed 64-bit integer mapped to an unsigned one of the same order."""
    return value + _SIGN


def unsigned(value: int) -> int:
    """The inverse of :func:`signed`."""
    return value - _SIGN


def micros(moment: datetime) -> int:
    """An aware datetime as order-preserving unsigned microseconds since the epoch."""
    # Read off the difference's fields: cheaper than dividing it by one microsecond.
    since = moment - _EPOCH
    return (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds + _SIGN


def from_micros(value: int) -> datetime:
    """The inverse of :func:`micros`: an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=value - _SIGN)


def day_number(moment: datetime) -> int:
    """The UTC day of ``moment`` as a count of days since the epoch."""
    return moment.astimezone(UTC).toordinal() - _EPOCH_ORDINAL


def job_id(seq: int) -> str:
    """The public id of the job with insertion sequence ``seq``: fixed-width hex."""
    return f"{seq:016x}"


def parse_job_id(value: str) -> bytes | None:
    """The primary key of a job id, or ``None`` if the id cannot be one of ours."""
    if len(value) != 16:
        return None
    try:
        key = bytes.fromhex(value)
    except ValueError:
        return None
    # fromhex skips whitespace: only eight bytes make a key.
    return key if len(key) == 8 else None


def bounded(text: bytes) -> bytes:
    """``text`` itself when short, else a tag byte and its BLAKE2b digest.

    The tag byte (``0x01`` verbatim, ``0x02`` hashed) keeps the two forms apart.
    """
    if len(text) <= _MAX_VERBATIM:
        return b"\x01" + text
    return b"\x02" + hashlib.blake2b(text, digest_size=32).digest()


def length_prefixed(name: bytes) -> bytes:
    """``name`` (a :func:`bounded` text) after its length: a key prefix that no other
    name's prefix begins, so that one name's entries never mix with a longer name's."""
    return bytes((len(name),)) + name


def claim_prefix(runtime_id: str) -> bytes:
    """The prefix of a runtime's keys in the claims index."""
    return length_prefixed(bounded(runtime_id.encode()))


def unique_prefix(unique_key: bytes) -> bytes:
    """The prefix of a unique key's entries in the uniqueness index.

    The index holds ``unique_prefix(key) + seq -> inserted_at`` (µs, ``U64``) for every
    stored job with a unique key, so one key's jobs sit together in insertion order.
    """
    return length_prefixed(bounded(unique_key))


def fire_key(name: str, fire_at: datetime) -> bytes:
    """The key recording that recurring task ``name`` fired for ``fire_at``."""
    return fire_prefix(name) + U64.pack(micros(fire_at))


def fire_prefix(name: str) -> bytes:
    """The fixed-width prefix of every fire key of recurring task ``name``."""
    return hashlib.blake2b(name.encode(), digest_size=16).digest()
