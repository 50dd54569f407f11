"""The records this process wrote when it claimed jobs, kept for their settlement.

A job is claimed and settled by the same process, usually a moment apart and with
nothing else touching it in between. Rather than decode its record again and work out
its index entries again, the settlement takes back what the claim wrote: but only if
the stored bytes are still exactly those, so a change by anyone else (a cancel request
from another process, a claim rolled back with its transaction) is read from the store
as usual. Equal bytes decode to an equal record, so nothing can tell the two ways apart.

Used only inside write transactions, which one lock serialises per environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from burro.storage._lmdb_records import StoredJob
    from burro.storage._lmdb_writer import Entries

    #: What a claim wrote: its record's bytes, the job and where it is indexed. A plain
    #: tuple: a named tuple's constructor is a Python call more on every claim.
    _Claimed = tuple[bytes, StoredJob, Entries]

__all__ = ["ClaimedRecords"]

#: Claims never settled here (released, rescued elsewhere) are forgotten beyond this.
_LIMIT = 4096


class ClaimedRecords:
    """Claimed job records by primary key, each taken back at most once."""

    def __init__(self) -> None:
        self._by_key: dict[bytes, _Claimed] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def keep(self, key: bytes, record: bytes, job: StoredJob, placement: Entries) -> None:
        """Remember that ``record`` (``job``, at ``placement``) was written under ``key``."""
        by_key = self._by_key
        if len(by_key) >= _LIMIT:
            del by_key[next(iter(by_key))]  # the oldest claim
        by_key[key] = (record, job, placement)

    def take(self, key: bytes, stored: bytes) -> tuple[StoredJob, Entries] | None:
        """The kept record under ``key`` if ``stored`` is still its bytes; forgotten either way.

        The record is handed over to be changed: a transaction that fails after this
        reads the job from the store again.
        """
        kept = self._by_key.pop(key, None)
        if kept is None:
            return None
        record, job, placement = kept
        return None if record != stored else (job, placement)
