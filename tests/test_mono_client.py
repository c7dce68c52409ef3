"""Mono's ``wsdl`` (.NET ``SoapHttpClientProtocol`` proxies) against the sandbox: every operation of every
SOAP port of every provider, over HTTP and over HTTPS with the generated CA in Mono's trust store.

Proxies are generated from the WSDLs the sandbox serves and compiled with ``mcs`` once per run; the
caller is ``tests/clients/mono/Main.cs``. Skips, saying why, when Mono is missing
(``scripts/test-deps.sh`` installs ``mono-devel``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid as uuid_module
from functools import cache
from pathlib import Path

import pytest
from generated_clients import (
    MAINTENANCE_OVERLAY,
    check_answers,
    read_maintenance_fault,
    signed_inputs,
)

from helpers import ROOT

MAIN = ROOT / "tests" / "clients" / "mono" / "Main.cs"
# namespace, -protocol, WSDL path
PROXIES = [("Sf", "SOAP", "/ws/services/Cancelacion?wsdl"), ("Sf12", "SOAP12", "/ws/services/Cancelacion?wsdl"),
           ("Xpd", "SOAP", "/cancelacion/CancelacionPruebas?wsdl"), ("Ms", "SOAP", "/factwsfront.asmx?wsdl"),
           ("Ms12", "SOAP12", "/factwsfront.asmx?wsdl")]


@cache
def missing() -> str | None:
    for tool in ("wsdl", "mcs", "mono", "cert-sync"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/test-deps.sh installs mono-devel)"
    return None


@pytest.fixture(scope="module")
def mono_client(server, tmp_path_factory):  # type: ignore[no-untyped-def]
    if reason := missing():
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("mono")
    sources = [str(work / "Main.cs")]
    shutil.copy(MAIN, sources[0])
    for namespace, protocol, path in PROXIES:
        out = work / f"{namespace}.cs"
        done = subprocess.run(["wsdl", "-nologo", f"-protocol:{protocol}", f"-namespace:{namespace}", f"-out:{out}",
                               server.url + path], capture_output=True, text=True, timeout=180, cwd=work)
        assert done.returncode == 0 and out.exists(), done.stdout + done.stderr
        sources.append(str(out))
    exe = work / "client.exe"
    done = subprocess.run(["mcs", "-nologo", "-r:System.Web.Services", "-r:System.Xml", f"-out:{exe}", *sources],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return exe


def inputs(tmp_path: Path, sandbox) -> list[str]:  # type: ignore[no-untyped-def]
    return signed_inputs(tmp_path, sandbox, str(uuid_module.uuid4()).upper())


def run(exe: Path, base: str, args: list[str], home: Path) -> dict[tuple[str, str], str]:
    # HOME of its own: Mono's user trust store lives there, and the machine's is left alone
    env = {**os.environ, "HOME": str(home)}
    done = subprocess.run(["mono", str(exe), base, *args], capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    results = {}
    for line in done.stdout.splitlines():
        port, operation, result = line.split(" ", 2)
        results[port, operation] = result
    return results


def check(results: dict, sandbox) -> None:  # type: ignore[no-untyped-def]
    check_answers(results, ("CancelacionHttpsSoap11Endpoint", "CancelacionHttpsSoap12Endpoint"))
    journal = sandbox.admin("GET", "requests", params={"limit": 100, "bodies": 0}).json()["requests"]
    assert len(journal) == 15 and all(r["status"] == 200 for r in journal)
    assert {r["soap_version"] for r in journal if r["provider"] != "expidetufactura"} == {"1.1", "1.2"}


def test_mono_every_operation_over_http(mono_client, sandbox, tmp_path):
    check(run(mono_client, sandbox.url, inputs(tmp_path, sandbox), tmp_path / "home"), sandbox)


def test_mono_every_operation_over_https_trusting_the_generated_ca(mono_client, sandbox, tmp_path, https):
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(["cert-sync", "--user", str(https.files.ca_cert)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "HOME": str(home)})
    assert done.returncode == 0, done.stdout + done.stderr
    base = f"{https.url}/__session/{sandbox.session}"
    check(run(mono_client, base, inputs(tmp_path, sandbox), home), sandbox)


def test_mono_refuses_the_sandbox_without_the_ca(mono_client, sandbox, tmp_path, https):
    env = {**os.environ, "HOME": str(tmp_path)}
    done = subprocess.run(["mono", str(mono_client), f"{https.url}/__session/{sandbox.session}",
                           *inputs(tmp_path, sandbox)], capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in done.stderr


def test_mono_reads_the_fault_detail_element(mono_client, sandbox, tmp_path):
    r = sandbox.admin("PUT", "scenarios", data=MAINTENANCE_OVERLAY, headers={"Content-Type": "application/yaml"})
    assert r.ok, r.text
    results = run(mono_client, sandbox.url, ["fault"], tmp_path)
    read_maintenance_fault(results)
