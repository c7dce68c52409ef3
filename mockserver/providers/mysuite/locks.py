"""One lock per job, held while the job converts: the wake-up of whoever waits for that conversion.

A status query that finds a job another thread or process is converting blocks on the job's lock
and wakes when the converter releases it (done, or dead: the kernel drops the locks of a process
that ends) instead of polling the row. With a database file the locks are ``flock`` locks on files
next to the job's documents (``<blob_key>.lock``, removed by the holder when it is done), so they
hold across worker processes; with the in-memory store (one process) they are thread locks.

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


class JobLocks:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
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

    def wait(self, key: str) -> None:
        """Block until the holder of ``key``'s lock, if any, releases it."""
        if self.directory is None:
            with self._thread_lock(key) as lock:
                lock.acquire()
                lock.release()
            return
        try:
            fd = os.open(self._path(key), os.O_RDWR)
        except FileNotFoundError:
            return  # no one holds it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        finally:
            os.close(fd)

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
