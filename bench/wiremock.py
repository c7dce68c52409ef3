"""WireMock 3.x as the yardstick: the same SF cancelarAsincrono request, a canned answer matched by XPath.

The standalone jar comes from the npm package ``wiremock`` (installed into ``bench/.cache/wiremock``);
Java 17 runs it. The request journal is capped at the sandbox's own journal limit (10 000 entries) so
that both keep a bounded history of what they served.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from . import CACHE_DIR
from .procs import ServerProcess, free_port
from .workloads import SF_NS, SF_PATH

NPM_PACKAGE = "wiremock@3"
JOURNAL_LIMIT = 10_000

CANNED = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    f'<ns:cancelarAsincronoResponse xmlns:ns="{SF_NS}"><ns:return xmlns:ax="{SF_NS}/xsd">'
    "<ax:mensaje>Solicitud de cancelación recibida</ax:mensaje><ax:status>200</ax:status>"
    "</ns:return></ns:cancelarAsincronoResponse></soapenv:Body></soapenv:Envelope>"
)


def mapping() -> dict:
    """POST to the SF path whose body has a ws:uuid that looks like a UUID (XPath + regex)."""
    return {
        "request": {
            "method": "POST",
            "urlPath": SF_PATH,
            "bodyPatterns": [
                {
                    "matchesXPath": {
                        "expression": "//ws:cancelarAsincrono/ws:uuid/text()",
                        "matches": "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}.*",
                    },
                    "xPathNamespaces": {"ws": SF_NS},
                }
            ],
        },
        "response": {
            "status": 200,
            "headers": {"Content-Type": "text/xml; charset=utf-8"},
            "body": CANNED,
        },
    }


def jar(cache: Path = CACHE_DIR / "wiremock") -> Path:
    """The standalone jar, installed with npm on first use."""
    found = sorted(cache.glob("node_modules/wiremock/**/wiremock-standalone-*.jar"))
    if found:
        return found[-1]
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to fetch WireMock (npm install wiremock)")
    cache.mkdir(parents=True, exist_ok=True)
    print(f"bench: installing {NPM_PACKAGE} into {cache}", flush=True)
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), NPM_PACKAGE],
        check=True,
        capture_output=True,
        timeout=300,
    )
    found = sorted(cache.glob("node_modules/wiremock/**/wiremock-standalone-*.jar"))
    if not found:
        raise RuntimeError(f"no wiremock-standalone jar under {cache}")
    return found[-1]


def version_of(path: Path) -> str:
    return path.stem.removeprefix("wiremock-standalone-")


def server(root: Path, log_path: Path | None = None) -> ServerProcess:
    """A WireMock process serving :func:`mapping` from ``root`` (its own mappings directory)."""
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("java (17 or later) is needed to run WireMock")
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    (root / "__files").mkdir(exist_ok=True)
    (root / "mappings" / "sf-cancelarAsincrono.json").write_text(json.dumps(mapping(), indent=2))
    port = free_port()
    command = [
        java,
        "-jar",
        str(jar()),
        "--port",
        str(port),
        "--bind-address",
        "127.0.0.1",
        "--root-dir",
        str(root),
        "--disable-banner",
        "--max-request-journal-entries",
        str(JOURNAL_LIMIT),
    ]
    process = ServerProcess("wiremock", command, f"http://127.0.0.1:{port}/__admin/health", log_path=log_path)
    process.port = port  # type: ignore[attr-defined]
    return process
