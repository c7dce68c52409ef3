"""One lock per job, held while the job converts: the wake-up of whoever waits for that conversion.

A status query that finds a job another thread or process is converting blocks on the job's lock
and wakes when the converter releases it (done, or dead: the kernel drops the locks of a process
that ends) instead of polling the row; it waits at most ``wait_limit`` seconds and then answers the
job as it stands (pending). Where the documents are files (a database file, or a folder every
replica mounts) the locks are ``flock`` locks on files next to them (``<blob_key>.lock``, removed by
the holder when it is done), so they hold across worker processes and replicas. Where the documents
are rows (the in-memory store, or PostgreSQL without a shared folder) they are thread locks, which
no other process sees: a query there does not wait for a conversion another replica is doing; it
answers the job pending until that conversion is stored.

The lock only wakes; the claim on the job's row (``models.claim_conversion``) is what keeps a job
from converting twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from ...request_threads import away

# How long a status query waits for a conversion someone else is doing before it answers the job
# pending: below the HTTP timeouts of common clients; a 40 MB document converts well within it.
WAIT_LIMIT_S = 30.0


class JobLocks:
    def __init__(self, directory: Path | None, wait_limit: float = WAIT_LIMIT_S) -> None:
        self.directory = directory
        self.wait_limit = wait_limit
        self._guard = threading.Lock()
        self._threads: dict[str, tuple[threading.Lock, list[int]]] = {}  # key -> (lock, [users])

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        if not key.isalnum():
            raise ValueError("lock keys are hex names")
        return self.directory / f"{key}.lock"

    @contextlib.contextmanager
    def try_hold(self, key: str) -> Iterator[bool]:
        """Hold the lock of ``key`` for the block if no one else does (yields whether it is held)."""
        if self.directory is None:
            with self._thread_lock(key) as lock:
                held = lock.acquire(blocking=False)
                try:
                    yield held
                finally:
                    if held:
                        lock.release()
            return
        path = self._path(key)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = _same_file(fd, path)  # else its holder finished and removed it meanwhile
            except BlockingIOError:
                held = False
            try:
                yield held
            finally:
                if held:
                    path.unlink(missing_ok=True)  # before the release: a waiter never finds a stale file
        finally:
            os.close(fd)  # closing the file releases its lock

    def wait(self, key: str) -> bool:
        """Block until the holder of ``key``'s lock, if any, releases it, at most ``wait_limit``
        seconds. True when it was released (or no one held it), False when the wait gave up."""
        if self.directory is None:
            with self._thread_lock(key) as lock:
                with away():
                    acquired = lock.acquire(timeout=self.wait_limit)
                if not acquired:
                    return False
                lock.release()
            return True
        try:
            fd = os.open(self._path(key), os.O_RDWR)
        except FileNotFoundError:
            return True  # no one holds it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            os.close(fd)  # free: closing the file releases the lock just taken
            return True
        # flock has no timeout (SIGALRM would reach only the main thread), so a helper thread blocks
        # on the lock and this one waits for the helper at most wait_limit. The helper owns the file
        # and closes it itself once it has the lock: closing it here while the helper may not yet be
        # inside flock could hand its number to another file. A helper left waiting after the limit
        # ends when the holder lets go (or dies) and holds the lock only for that moment.
        released = threading.Event()

        def block() -> None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            finally:
                os.close(fd)
                released.set()

        threading.Thread(target=block, name=f"pac-mock-lock-{key[:12]}", daemon=True).start()
        with away():
            return released.wait(self.wait_limit)

    @contextlib.contextmanager
    def _thread_lock(self, key: str) -> Iterator[threading.Lock]:
        with self._guard:
            lock, users = self._threads.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            yield lock
        finally:
            with self._guard:
                users[0] -= 1
                if not users[0]:
                    del self._threads[key]


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
