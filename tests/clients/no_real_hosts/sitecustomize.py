"""Loaded by any Python started with this folder on PYTHONPATH: the providers' real host names do not
resolve. Each attempt is appended to $PAC_MOCK_BLOCKED_LOG and fails at once, as a closed port would."""

import os
import socket

_HOSTS = tuple(filter(None, os.environ.get("PAC_MOCK_REAL_HOSTS", "").split(",")))
_real_getaddrinfo = socket.getaddrinfo


def _blocked(host) -> bool:  # type: ignore[no-untyped-def]
    name = (host.decode() if isinstance(host, bytes) else str(host or "")).lower().rstrip(".")
    return any(name == h or name.endswith("." + h) for h in _HOSTS)


def _getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if _blocked(host):
        with open(os.environ["PAC_MOCK_BLOCKED_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{host}\n")
        raise socket.gaierror(socket.EAI_NONAME, f"{host}: a real provider, blocked by the docs test")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo
