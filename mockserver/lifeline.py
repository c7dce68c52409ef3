"""Processes the server starts end with it, whatever ended it (``kill -9``, the OOM killer).

A worker left running after its server died would go on accepting connections on the port
(granian's workers each bind it with SO_REUSEPORT) and split a restarted server's calls with it.
Two guards: on Linux the kernel sends SIGKILL to the child when its parent dies
(``PR_SET_PDEATHSIG``); everywhere a thread checks every ``interval`` seconds that the parent is
still the one that started us and ends this process when it is not.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PARENT_ENV = "PAC_MOCK_SERVER_PID"  # set by the server for its workers; not a setting
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None, interval: float = 0.25) -> None:
    """End this process as soon as ``parent`` (default: the current parent) is gone.

    Call it first thing in a child process. When the parent is already gone, the process ends here.
    """
    parent = parent or os.getppid()
    _set_pdeathsig()
    # The parent may have died before the kernel was told: then we already belong to someone else.
    if os.getppid() != parent:
        _die()
    thread = threading.Thread(target=_watch, args=(parent, interval), name="pac-mock-lifeline", daemon=True)
    thread.start()


def parent_from_env() -> int | None:
    value = os.environ.get(PARENT_ENV, "")
    return int(value) if value.isdigit() else None


def _set_pdeathsig() -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _watch(parent: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            _die()


def _die() -> None:
    # No clean-up on purpose: state lives in SQLite, whose journal undoes an unfinished write, and
    # an orphan must not serve even one more request while it tidies up.
    os.kill(os.getpid(), signal.SIGKILL)
