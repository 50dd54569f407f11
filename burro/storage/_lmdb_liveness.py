"""Runtime liveness by lock files: ``<data_dir>/runtimes/<runtime id>.lock``.

A registered runtime holds an exclusive ``flock`` on its file for as long as it lives;
the kernel drops the lock when the process dies, however it dies. A runtime is alive
exactly while its lock cannot be taken. ``flock`` (unlike POSIX ``fcntl`` locks) conflicts
between two descriptors of the same process, so a runtime in this process is judged the
same way as one in another process.

The file of a dead runtime is unlinked by whoever finds it dead, while holding its lock;
both sides check that the path still names the inode they locked, so a lock taken on a
file that was unlinked meanwhile is never mistaken for a live (or a dead) runtime.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import threading
from pathlib import Path

from burro.errors import StorageError

__all__ = ["RuntimeLocks", "is_alive"]

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}")


def lock_path(directory: Path, runtime_id: str) -> Path:
    """The lock file of ``runtime_id``: the id itself when it is a safe file name."""
    if _SAFE_NAME.fullmatch(runtime_id):
        return directory / f"{runtime_id}.lock"
    digest = hashlib.blake2b(runtime_id.encode(), digest_size=16).hexdigest()
    return directory / f"id-{digest}.lock"


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def is_alive(directory: Path, runtime_id: str) -> bool:
    """Whether some process holds ``runtime_id``'s lock; a dead one's file is removed."""
    path = lock_path(directory, runtime_id)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        if _same_file(fd, path):
            path.unlink()
        return False
    finally:
        os.close(fd)


class RuntimeLocks:
    """The lock files held by the runtimes of this process, for one data directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, runtime_id: str) -> None:
        """Take ``runtime_id``'s lock (again: no-op); :class:`StorageError` if it is alive."""
        with self._lock:
            if runtime_id not in self._held:
                self._held[runtime_id] = self._take(lock_path(self.directory, runtime_id))

    def _take(self, path: Path) -> int:
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as error:
                raise StorageError(f"{path}: cannot create the runtime lock: {error}") from error
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise StorageError(f"{path}: a live runtime already holds this id") from None
            if _same_file(fd, path):
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                return fd
            # A survivor found the previous holder dead and unlinked the file meanwhile.
            os.close(fd)

    def release(self, runtime_id: str, *, remove: bool) -> None:
        """Give up ``runtime_id``'s lock (no-op if not held here).

        ``remove``: the runtime stopped cleanly, so its file goes too. Otherwise the file
        stays for a survivor to find unlocked, judge dead and rescue its claims.
        """
        with self._lock:
            fd = self._held.pop(runtime_id, None)
        if fd is None:
            return
        path = lock_path(self.directory, runtime_id)
        try:
            if remove and _same_file(fd, path):
                path.unlink()
        finally:
            os.close(fd)

    def holds(self, runtime_id: str) -> bool:
        """Whether this process holds ``runtime_id``'s lock through this object."""
        return runtime_id in self._held

    def forget_after_fork(self) -> None:
        """In a forked child: close the inherited descriptors without unlocking.

        The lock belongs to the open file description shared with the parent; closing
        the child's copy leaves the parent's lock in place (``LOCK_UN`` would not).
        """
        held, self._held = self._held, {}
        self._lock = threading.Lock()
        for fd in held.values():
            os.close(fd)
