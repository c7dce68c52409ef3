"""Wire compatibility with SOAP clients other than zeep: suds (Python), PHP SoapClient and node-soap.

Each client builds itself from the WSDL the sandbox serves (``?wsdl``) and calls the sandbox session
as an application would; the tests assert on the typed results the client hands back. The PHP and
JavaScript callers live in ``tests/clients/`` and print JSON. A test skips, saying why, when its client
is not installed (``scripts/test-deps.sh`` installs php-cli + php-soap and node-soap).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import uuid as uuid_module
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest
from generated_clients import MAINTENANCE_OVERLAY

from mockserver.sat import sign_cancelacion
from mockserver.sat.pki import fixture

CLIENTS = Path(__file__).resolve().parent / "clients"
NODE_MODULES = CLIENTS / ".deps" / "node_modules"
# Mock clock (Mexico City wall time); the signed Cancelacion carries this Fecha.
NOW = datetime(2026, 6, 1, 12, 0, 0)
SF_WSDL = "/ws/services/Cancelacion?wsdl"
XPD_WSDL = "/cancelacion/CancelacionPruebas?wsdl"
MS_WSDL = "/mx.com.fact.wsfront/factwsfront.asmx?wsdl"
SF_USER = {"usuario": "testing@solucionfactible.com", "password": "timbrado.SF.16672"}
MS_ID = "0c320b03-d4f1-47bc-9fb4-77995f9bf33e"
MS_UNKNOWN_GUID = 3141  # ASYNC_CONVERT_VERIFY of a GUID the sandbox never issued


def new_uuid() -> str:
    return str(uuid_module.uuid4()).upper()


def freeze(sandbox) -> None:  # type: ignore[no-untyped-def]
    r = sandbox.admin("POST", "clock", json={"freeze": NOW.isoformat()})
    assert r.status_code == 200, r.text


def signed_cancelacion(uuid: str) -> bytes:
    info = fixture("csd_moral")
    cert = info.certificate()
    return sign_cancelacion(cert, info.private_key(), cert.rfc, [uuid], NOW)


def journal(sandbox, provider: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return sandbox.admin("GET", "requests", params={"provider": provider}).json()["requests"]


# --- availability --------------------------------------------------------------------------------------


@cache
def php_missing() -> str | None:
    php = shutil.which("php")
    if php is None:
        return "php-cli is not installed (scripts/test-deps.sh installs php-cli php-soap)"
    probe = subprocess.run([php, "-r", 'exit(class_exists("SoapClient") ? 0 : 1);'], capture_output=True, timeout=30)
    if probe.returncode != 0:
        return "PHP has no SoapClient: the soap extension is missing (apt-get install php-soap)"
    return None


def node_env() -> dict[str, str]:
    paths = [str(NODE_MODULES), *filter(None, os.environ.get("NODE_PATH", "").split(os.pathsep))]
    return {**os.environ, "NODE_PATH": os.pathsep.join(paths)}


@cache
def node_missing() -> str | None:
    node = shutil.which("node")
    if node is None:
        return "Node.js is not installed"
    probe = subprocess.run([node, "-e", "require.resolve('soap')"], capture_output=True, env=node_env(), timeout=30)
    if probe.returncode != 0:
        return "node-soap is not installed (scripts/test-deps.sh: npm install --prefix tests/clients/.deps soap)"
    return None


def run_client(cmd: list[str], env: dict[str, str] | None = None, expect: int = 0) -> dict:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == expect, f"{cmd[:3]} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def php(sandbox, *args: str) -> dict:  # type: ignore[no-untyped-def]
    if reason := php_missing():
        pytest.skip(reason)
    return run_client(["php", str(CLIENTS / "soapclient.php"), sandbox.url, *args])


def node(sandbox, *args: str, expect: int = 0) -> dict:  # type: ignore[no-untyped-def]
    if reason := node_missing():
        pytest.skip(reason)
    return run_client(["node", str(CLIENTS / "soapclient.js"), sandbox.url, *args], env=node_env(), expect=expect)


def suds_client(url: str, **kw):  # type: ignore[no-untyped-def]
    suds_client_module = pytest.importorskip("suds.client", reason="suds is not installed (pip install suds-community)")
    return suds_client_module.Client(url, cache=None, timeout=30, **kw)


# --- suds ------------------------------------------------------------------------------------------------


def test_suds_solucionfactible_cancel_then_status(sandbox):
    sf = suds_client(sandbox.url + SF_WSDL, port="CancelacionHttpsSoap11Endpoint")
    uuid = new_uuid()

    accepted = sf.service.cancelarAsincrono(uuid=f"{uuid}|02|", rfcEmisor="MOC900101AB1", **SF_USER)
    assert accepted.status == 200 and accepted.mensaje == uuid.lower()

    pending = sf.service.getStatusCancelacionAsincrona(transactionId=uuid, **SF_USER)
    assert pending.status == 211 and pending.mensaje == "The cancelation is currently being processed"
    assert pending.acuseSat is None


def test_suds_expidetufactura_cancelar_a_signed_cancelacion(sandbox):
    freeze(sandbox)
    etf = suds_client(sandbox.url + XPD_WSDL)
    uuid = new_uuid()

    # suds sends base64Binary parts as given: encode the signed bytes here.
    result = etf.service.cancelar(
        usuario="pruebas", token="123456", xmlBytes=base64.b64encode(signed_cancelacion(uuid)).decode()
    )
    assert result.codEstatus == "200"
    assert list(result.uuids) == [uuid] and list(result.estatusUUIDs) == ["201"]
    assert uuid in result.acuse


def test_suds_mysuite_verify_of_an_unknown_guid(sandbox):
    ms = suds_client(sandbox.url + MS_WSDL, port="FactWSFrontSoap")
    guid = str(uuid_module.uuid4())

    answer = ms.service.RequestTransaction(
        Requestor=MS_ID, Transaction="ASYNC_CONVERT_VERIFY", Country="MX", Entity="JES900109Q90",
        User=MS_ID, UserName="MX.JES900109Q90.Juan", Data1=guid, Data2="", Data3="",
    )
    assert answer.Response.Result is False and answer.Response.Code == MS_UNKNOWN_GUID
    assert guid in answer.Response.Description
    assert answer.Request.Transaction == "ASYNC_CONVERT_VERIFY" and answer.Request.RequestorActive is True


# --- PHP SoapClient ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_php_solucionfactible_cancel_then_status(sandbox, version):
    uuid = new_uuid()
    out = php(sandbox, "sf", version, uuid)

    accepted = out["cancelarAsincrono"]["return"]
    assert accepted == {"mensaje": uuid.lower(), "status": 200}
    pending = out["getStatusCancelacionAsincrona"]["return"]
    assert pending["status"] == 211 and pending["mensaje"] == "The cancelation is currently being processed"
    assert pending["acuseSat"] is None

    expected = "text/xml" if version == "1.1" else "application/soap+xml"
    assert expected in out["response_headers"]
    assert {r["soap_version"] for r in journal(sandbox, "solucionfactible")} == {version}


def test_php_expidetufactura_cancelar_a_signed_cancelacion(sandbox, tmp_path):
    freeze(sandbox)
    uuid = new_uuid()
    xml = tmp_path / "cancelacion.xml"
    xml.write_bytes(signed_cancelacion(uuid))

    result = php(sandbox, "xpd", str(xml))["cancelar"]["return"]
    assert result["codEstatus"] == "200"
    assert result["uuids"] == [uuid] and result["estatusUUIDs"] == ["201"]
    assert uuid in result["acuse"]
    # SoapClient base64-encoded the raw bytes itself: the sandbox read the same Cancelacion.
    (entry,) = journal(sandbox, "expidetufactura")
    assert entry["summary"]["uuids"] == [f"{uuid}:201"]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_php_mysuite_verify_of_an_unknown_guid(sandbox, version):
    guid = str(uuid_module.uuid4())
    answer = php(sandbox, "mysuite", version, guid)["RequestTransaction"]["RequestTransactionResult"]
    assert answer["Response"]["Result"] is False and answer["Response"]["Code"] == MS_UNKNOWN_GUID
    assert guid in answer["Response"]["Description"]
    assert answer["ResponseData"] == {"ResponseData1": "", "ResponseData2": "", "ResponseData3": ""}


# --- node-soap ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_node_solucionfactible_cancel_then_status(sandbox, version):
    uuid = new_uuid()
    out = node(sandbox, "sf", version, uuid)

    accepted = out["cancelarAsincrono"]["return"]
    assert accepted["status"] == 200 and accepted["mensaje"] == uuid.lower()
    pending = out["getStatusCancelacionAsincrona"]["return"]
    assert pending["status"] == 211 and pending["mensaje"] == "The cancelation is currently being processed"

    assert out["endpoint"].endswith(f"Cancelacion.CancelacionHttpsSoap{version.replace('.', '')}Endpoint/")
    assert {r["soap_version"] for r in journal(sandbox, "solucionfactible")} == {version}


def test_node_expidetufactura_cancelar_a_signed_cancelacion(sandbox, tmp_path):
    freeze(sandbox)
    uuid = new_uuid()
    xml = tmp_path / "cancelacion.xml"
    xml.write_bytes(signed_cancelacion(uuid))

    result = node(sandbox, "xpd", str(xml))["cancelar"]["return"]
    assert result["codEstatus"] == "200"
    assert result["uuids"] == [uuid] and result["estatusUUIDs"] == ["201"]
    assert uuid in result["acuse"]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_node_mysuite_verify_of_an_unknown_guid(sandbox, version):
    guid = str(uuid_module.uuid4())
    answer = node(sandbox, "mysuite", version, guid)["RequestTransaction"]["RequestTransactionResult"]
    assert answer["Response"]["Result"] is False and answer["Response"]["Code"] == MS_UNKNOWN_GUID
    assert guid in answer["Response"]["Description"]
    assert {r["soap_version"] for r in journal(sandbox, "mysuite")} == {version}


# --- fault details: an element every client hands over ------------------------------------------------------

FAULT_NS = "urn:pac-mock:fault"


def inject_fault(sandbox) -> None:  # type: ignore[no-untyped-def]
    r = sandbox.admin("PUT", "scenarios", data=MAINTENANCE_OVERLAY, headers={"Content-Type": "application/yaml"})
    assert r.ok, r.text


@pytest.mark.parametrize("port", ["CancelacionHttpsSoap11Endpoint", "CancelacionHttpsSoap12Endpoint"])
def test_zeep_reads_the_fault_detail_element(sandbox, port):
    zeep = pytest.importorskip("zeep")
    inject_fault(sandbox)
    service = zeep.Client(sandbox.url + SF_WSDL).bind("Cancelacion", port)
    with pytest.raises(zeep.exceptions.Fault) as info:
        service.getStatusCancelacionAsincrona(*SF_USER.values(), new_uuid())
    assert info.value.message == "En mantenimiento"
    (error,) = info.value.detail
    assert error.tag == f"{{{FAULT_NS}}}error" and error.get("code") == "Server"
    assert error.text == "vuelva en 5 minutos"


def test_suds_reads_the_fault_detail_element(sandbox):
    suds = pytest.importorskip("suds", reason="suds is not installed (pip install suds-community)")
    inject_fault(sandbox)
    sf = suds_client(sandbox.url + SF_WSDL, port="CancelacionHttpsSoap11Endpoint")
    with pytest.raises(suds.WebFault) as info:
        sf.service.getStatusCancelacionAsincrona(transactionId=new_uuid(), **SF_USER)
    fault = info.value.fault
    assert fault.faultstring == "En mantenimiento"
    assert fault.detail.error.value == "vuelva en 5 minutos" and fault.detail.error._code == "Server"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_node_reads_the_fault_detail_element(sandbox, version):
    inject_fault(sandbox)
    out = node(sandbox, "sf", version, new_uuid(), expect=2)
    assert "En mantenimiento" in out["fault"]
    fault = out["root"]["Envelope"]["Body"]["Fault"]
    detail = fault["detail"] if version == "1.1" else fault["Detail"]
    error = detail["error"]
    assert error["$value"] == "vuelva en 5 minutos" and error["attributes"]["code"] == "Server"


# --- HTTPS with the sandbox's generated CA ------------------------------------------------------------------


class HttpsSandbox:
    def __init__(self, sandbox, https) -> None:  # type: ignore[no-untyped-def]
        self.url = f"{https.url}/__session/{sandbox.session}"
        self.ca = str(https.files.ca_cert)
        self.admin = sandbox.admin


def test_zeep_over_https_trusting_the_generated_ca(sandbox, https, monkeypatch):
    zeep = pytest.importorskip("zeep")
    import requests

    tls = HttpsSandbox(sandbox, https)
    # requests lets these variables win over Session.verify: a machine that sets them must not decide
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    session = requests.Session()
    session.verify = tls.ca
    client = zeep.Client(tls.url + SF_WSDL, transport=zeep.Transport(session=session))
    service = client.bind("Cancelacion", "CancelacionHttpsSoap12Endpoint")
    uuid = new_uuid()
    accepted = service.cancelarAsincrono(*SF_USER.values(), f"{uuid}|02|", "MOC900101AB1", None, None, None, None)
    assert accepted.status == 200
    # the served WSDL sends the client back over https, to the same host and port
    assert service._binding_options["address"].startswith(tls.url + "/ws/services/")
    (entry,) = journal(sandbox, "solucionfactible")
    assert entry["soap_version"] == "1.2"


def test_suds_over_https_trusting_the_generated_ca(sandbox, https, monkeypatch):
    tls = HttpsSandbox(sandbox, https)
    monkeypatch.setenv("SSL_CERT_FILE", tls.ca)  # what urllib (and so suds) trusts
    ms = suds_client(tls.url + MS_WSDL, port="FactWSFrontSoap")
    guid = str(uuid_module.uuid4())
    answer = ms.service.RequestTransaction(
        Requestor=MS_ID, Transaction="ASYNC_CONVERT_VERIFY", Country="MX", Entity="JES900109Q90",
        User=MS_ID, UserName="MX.JES900109Q90.Juan", Data1=guid, Data2="", Data3="",
    )
    assert answer.Response.Code == MS_UNKNOWN_GUID and guid in answer.Response.Description


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_node_over_https_trusting_the_generated_ca(sandbox, https, version):
    if reason := node_missing():
        pytest.skip(reason)
    tls = HttpsSandbox(sandbox, https)
    uuid = new_uuid()
    out = run_client(["node", str(CLIENTS / "soapclient.js"), tls.url, "sf", version, uuid],
                     env={**node_env(), "NODE_EXTRA_CA_CERTS": tls.ca})
    assert out["cancelarAsincrono"]["return"]["status"] == 200
    assert out["endpoint"].startswith(tls.url + "/ws/services/")


def test_node_refuses_the_sandbox_without_the_ca(sandbox, https):
    if reason := node_missing():
        pytest.skip(reason)
    env = {k: v for k, v in node_env().items() if k != "NODE_EXTRA_CA_CERTS"}
    out = run_client(["node", str(CLIENTS / "soapclient.js"), HttpsSandbox(sandbox, https).url, "sf", "1.1",
                      new_uuid()], env=env, expect=2)
    assert "certificate" in out["fault"].lower()
