"""MYSuite RequestTransaction over HTTP: asynchronous conversion, status, links, accounts and limits."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import zipfile
from pathlib import Path

import pytest
import requests
import zeep
from lxml import etree
from pypdf import PdfReader

from mockserver.providers.mysuite.documents import CFDI_NS, TFD_NS
from mockserver.testing.mysuite import native_document

from wsdl_schema import assert_valid_body

NS = "http://www.fact.com.mx/schema/ws"
WSDL = Path(__file__).resolve().parents[1] / "mockserver/providers/mysuite/wsdl/FactWSFront.wsdl"
PATH = "/mx.com.fact.wsfront/factwsfront.asmx"
REQUESTOR = "0c320b03-d4f1-47bc-9fb4-77995f9bf33e"
ENTITY = "JES900109Q90"
USER_NAME = "MX.JES900109Q90.Juan"
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
DOTNET_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}-06:00$")
LOCAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")  # AsyncRequest's EnrolledTimeStamp
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
SOAP_NS = {
    "1.1": "http://schemas.xmlsoap.org/soap/envelope/",
    "1.2": "http://www.w3.org/2003/05/soap-envelope",
}


@pytest.fixture(scope="module")
def native_1_5mb() -> str:
    return base64.b64encode(native_document(1_500_000)).decode("ascii")


def envelope(
    transaction: str, data1: str = "", data2: str = "", *, version: str = "1.1", **fields: str
) -> bytes:
    values = {
        "Requestor": REQUESTOR, "Transaction": transaction, "Country": "MX", "Entity": ENTITY,
        "User": REQUESTOR, "UserName": USER_NAME, "Data1": data1, "Data2": data2, "Data3": "",
    }  # fmt: skip
    values.update(fields)
    children = "".join(f"<ws:{k}>{v}</ws:{k}>" for k, v in values.items() if v is not None)
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_NS[version]}" xmlns:ws="{NS}"><soap:Body>'
        f"<ws:RequestTransaction>{children}</ws:RequestTransaction></soap:Body></soap:Envelope>"
    ).encode()


class Answer:
    """A parsed RequestTransactionResult, checked against the WSDL's schema."""

    def __init__(self, response: requests.Response) -> None:
        assert response.status_code == 200, response.text[:500]
        root = etree.fromstring(response.content)
        self.payload = root.find(f"{{*}}Body/{{{NS}}}RequestTransactionResponse")
        assert self.payload is not None, response.text[:500]
        assert self.payload.prefix is None  # default namespace, as ASMX writes it
        assert_valid_body(WSDL, self.payload)
        self.result = self.payload.find(f"{{{NS}}}RequestTransactionResult")

    def text(self, path: str) -> str | None:
        el = self.result.find("/".join(f"{{{NS}}}{p}" for p in path.split("/")))
        return None if el is None else (el.text or "")

    @property
    def ok(self) -> bool:
        return self.text("Response/Result") == "true"

    @property
    def code(self) -> int:
        return int(self.text("Response/Code"))

    def data(self, n: int) -> str:
        return self.text(f"ResponseData/ResponseData{n}")

    def decoded(self, n: int) -> bytes:
        return base64.b64decode(self.data(n))


def call(sandbox, transaction: str, data1: str = "", data2: str = "", *, version: str = "1.1", path: str = PATH,
         **fields: str) -> Answer:  # fmt: skip
    body = envelope(transaction, data1, data2, version=version, **fields)
    return Answer(sandbox.post_soap(path, body, version=version))


def verify(sandbox, guid: str) -> dict:
    answer = call(sandbox, "ASYNC_CONVERT_VERIFY", guid)
    assert answer.ok, answer.text("Response/Description")
    xml = etree.fromstring(answer.decoded(1))
    as_json = json.loads(answer.decoded(2))
    assert xml.tag == "AsyncRequest"
    assert list(as_json) == [
        "Entity", "Uuid", "InternalID", "EnrolledTimeStamp", "Status", "DocumentGUID", "Year", "Batch", "Serial",
        "ErrorMsg",
    ]  # fmt: skip
    # The XML leaves out what is null in the JSON (.NET's XmlSerializer; the document's example).
    assert [c.tag for c in xml] == [k for k, v in as_json.items() if v is not None]
    assert xml.findtext("Uuid") == as_json["Uuid"] == guid
    assert LOCAL_TIME.match(xml.findtext("EnrolledTimeStamp"))
    assert re.fullmatch(r"/Date\(\d+\)/", as_json["EnrolledTimeStamp"])
    assert int(xml.findtext("Status")) == as_json["Status"]
    return as_json


def freeze(sandbox, at: str = "2026-01-10T10:00:00") -> None:
    assert sandbox.admin("POST", "clock", json={"freeze": at}).ok


def advance(sandbox, by: str) -> None:
    assert sandbox.admin("POST", "clock", json={"advance": by}).ok


def accept(sandbox, native_b64: str, internal_id: str) -> str:
    answer = call(sandbox, "ASYNC_CONVERT_NATIVE_XML", native_b64, internal_id)
    assert answer.ok, answer.text("Response/Description")
    assert answer.code == 1
    assert GUID.match(answer.data(1))
    return answer.data(1)


def links(sandbox, guid: str) -> tuple[str, str]:
    answer = call(sandbox, "ASYNC_RETRIEVE_DOCUMENT", guid)
    assert answer.ok, answer.text("Response/Description")
    return answer.decoded(1).decode(), answer.decoded(3).decode()


def unzip(content: bytes) -> tuple[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None
        (name,) = archive.namelist()
        return name, archive.read(name)


# --- the whole life of a large document ----------------------------------------------------------------


def test_zeep_client_converts_a_1_5_mb_document_end_to_end(sandbox, native_1_5mb):
    freeze(sandbox)
    client = zeep.Client(sandbox.url + PATH + "?wsdl")
    common = {
        "Requestor": REQUESTOR,
        "Country": "MX",
        "Entity": ENTITY,
        "User": REQUESTOR,
        "UserName": USER_NAME,
    }

    accepted = client.service.RequestTransaction(
        Transaction="ASYNC_CONVERT_NATIVE_XML", Data1=native_1_5mb, Data2="FAC-0001", **common
    )
    assert accepted.Response.Result is True and accepted.Response.Code == 1
    guid = accepted.ResponseData.ResponseData1
    assert GUID.match(guid)
    assert accepted.Request.Transaction == "ASYNC_CONVERT_NATIVE_XML"
    assert str(accepted.Request.Requestor) == REQUESTOR and accepted.Request.RequestorActive is True

    pending = client.service.RequestTransaction(Transaction="ASYNC_CONVERT_VERIFY", Data1=guid, **common)
    record = json.loads(base64.b64decode(pending.ResponseData.ResponseData2))
    assert record["Status"] == 1 and record["Uuid"] == guid and record["InternalID"] == "FAC-0001"
    assert record["DocumentGUID"] is None and record["ErrorMsg"] is None

    not_yet = client.service.RequestTransaction(Transaction="ASYNC_RETRIEVE_DOCUMENT", Data1=guid, **common)
    assert not_yet.Response.Result is False and "en proceso" in not_yet.Response.Description

    advance(sandbox, "10s")  # processing takes 2 s + 1 s per MB of mock time
    done = client.service.RequestTransaction(Transaction="ASYNC_CONVERT_VERIFY", Data1=guid, **common)
    record = json.loads(base64.b64decode(done.ResponseData.ResponseData2))
    assert (
        record["Status"] == 2
        and record["Year"] == 2026
        and record["Batch"] == "A"
        and record["Serial"] == "1"
    )
    assert record["Uuid"] == guid and record["ErrorMsg"] is None
    uuid = record["DocumentGUID"].upper()  # the fiscal UUID, written like a .NET Guid

    retrieved = client.service.RequestTransaction(Transaction="ASYNC_RETRIEVE_DOCUMENT", Data1=guid, **common)
    assert retrieved.Response.Result is True
    assert retrieved.Response.Identifier.InternalID == "FAC-0001"
    assert retrieved.Response.Identifier.ReceiverTaxID == "XAXX010101000"
    xml_link = base64.b64decode(retrieved.ResponseData.ResponseData1).decode()
    pdf_link = base64.b64decode(retrieved.ResponseData.ResponseData3).decode()
    assert xml_link.startswith(sandbox.url + "/mysuite/downloads/")

    got = requests.get(xml_link, timeout=30)
    assert got.status_code == 200 and got.headers["Content-Type"] == "application/zip"
    name, cfdi = unzip(got.content)
    assert name.endswith(".xml")
    root = etree.fromstring(cfdi, etree.XMLParser(huge_tree=True))
    assert root.tag == f"{{{CFDI_NS}}}Comprobante" and root.get("Version") == "4.0"
    assert root.find(f"{{{CFDI_NS}}}Emisor").get("Rfc") == ENTITY
    tfd = root.find(f"{{{CFDI_NS}}}Complemento/{{{TFD_NS}}}TimbreFiscalDigital")
    assert tfd.get("UUID") == uuid and tfd.get("SelloSAT") and tfd.get("NoCertificadoSAT")
    assert tfd.get("FechaTimbrado") == "2026-01-10T10:00:03"

    got = requests.get(pdf_link, timeout=30)
    assert got.status_code == 200
    name, pdf = unzip(got.content)
    assert name.endswith(".pdf")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 1 and uuid in reader.pages[0].extract_text()

    # The same internal number again: 3196 and the existing request's id.
    again = client.service.RequestTransaction(
        Transaction="ASYNC_CONVERT_NATIVE_XML", Data1=native_1_5mb, Data2="FAC-0001", **common
    )
    assert again.Response.Result is False and again.Response.Code == 3196
    assert again.Response.Description == (
        "El número interno proporcionado ya se encuentra registrado. "
        "Consulte ResponseData1 para obtener el Id de la solicitud existente."
    )
    assert again.ResponseData.ResponseData1 == guid


def test_soap_1_2_on_both_paths_with_valid_echo(sandbox, native_1_5mb):
    freeze(sandbox)
    for n, path in enumerate((PATH, "/FactWSFront.asmx", "/MX.COM.FACT.WSFRONT/FactWSFront.asmx")):
        answer = call(sandbox, "ASYNC_CONVERT_NATIVE_XML", native_1_5mb, f"S12-{n}", version="1.2", path=path)
        assert answer.ok, answer.text("Response/Description")
        assert answer.text("Request/Transaction") == "ASYNC_CONVERT_NATIVE_XML"
        assert answer.text("Request/Requestor") == REQUESTOR and answer.text("Request/User") == REQUESTOR
        assert answer.text("Request/RequestorActive") == "true"
        assert GUID.match(answer.text("Request/Id"))
        assert answer.text("Request/TimeStamp") == "2026-01-10T10:00:00.0000000-06:00"
        assert DOTNET_TIME.match(answer.text("Response/TimeStamp"))
        # Empty strings are empty elements, not missing ones.
        assert answer.text("Response/Description") == "" and answer.text("Response/LastResult") == ""
    soap12 = sandbox.post_soap(
        PATH, envelope("ASYNC_CONVERT_VERIFY", EMPTY_GUID, version="1.2"), version="1.2"
    )
    assert soap12.headers["Content-Type"].startswith("application/soap+xml")


def test_timestamps_carry_the_mock_clocks_fraction(sandbox):
    freeze(sandbox, "2023-03-21T10:56:25.525636-06:00")
    answer = call(sandbox, "ASYNC_CONVERT_VERIFY", "not-a-guid")
    assert answer.text("Response/TimeStamp") == "2023-03-21T10:56:25.5256360-06:00"


# --- links -----------------------------------------------------------------------------------------------


def test_links_are_new_each_call_and_expire_after_five_days_of_mock_time(sandbox, native_1_5mb):
    freeze(sandbox)
    guid = accept(sandbox, native_1_5mb, "LINKS-1")
    advance(sandbox, "1m")
    first = links(sandbox, guid)
    second = links(sandbox, guid)
    assert first[0] != second[0] and first[1] != second[1]
    assert requests.get(first[0], timeout=30).status_code == 200

    token = first[0].rsplit("/", 1)[1]
    tampered = first[0][: -len(token)] + token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    forbidden = requests.get(tampered, timeout=30)
    assert forbidden.status_code == 403 and "no es válido" in forbidden.text

    advance(sandbox, "4d23h58m")
    assert requests.get(first[1], timeout=30).status_code == 200
    advance(sandbox, "2m")
    gone = requests.get(first[0], timeout=30)
    assert gone.status_code == 410 and "expiró" in gone.text and "ASYNC_RETRIEVE_DOCUMENT" in gone.text
    fresh = links(sandbox, guid)
    assert requests.get(fresh[0], timeout=30).status_code == 200


# --- sizes, duplicates, environments -------------------------------------------------------------------


def test_test_environment_accepts_only_more_than_1_mb_up_to_4_mb(sandbox):
    freeze(sandbox)
    small = call(
        sandbox, "ASYNC_CONVERT_NATIVE_XML", base64.b64encode(native_document(900_000)).decode(), "SMALL"
    )
    assert not small.ok and small.code == 3132
    assert "mayor a 1 MB" in small.text("Response/Description") and "hasta 4 MB" in small.text(
        "Response/Description"
    )
    assert "CONVERT_NATIVE_XML" in small.text("Response/Hint")
    big = call(
        sandbox, "ASYNC_CONVERT_NATIVE_XML", base64.b64encode(native_document(4_100_000)).decode(), "BIG"
    )
    assert not big.ok and big.code == 3132 and "4 MB" in big.text("Response/Hint")
    # A rejected size does not use up the internal number.
    assert accept(sandbox, base64.b64encode(native_document(3_900_000)).decode(), "BIG")


def test_fifty_concurrent_duplicates_accept_exactly_one(sandbox, native_1_5mb):
    freeze(sandbox)
    body = envelope("ASYNC_CONVERT_NATIVE_XML", native_1_5mb, "CONCURRENTE-1")
    answers: list[Answer] = []
    lock = threading.Lock()
    start = threading.Barrier(50)

    def post() -> None:
        start.wait()
        answer = Answer(sandbox.post_soap(PATH, body))
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=post) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = [a for a in answers if a.ok]
    assert len(answers) == 50 and len(accepted) == 1
    winner = accepted[0].data(1)
    assert all(a.code == 3196 and a.data(1) == winner for a in answers if not a.ok)
    jobs = sandbox.admin("GET", "jobs").json()["mysuite"]["jobs"]
    assert [j["request_id"] for j in jobs] == [winner]


PRODUCTION = """
providers:
  mysuite:
    environment: productivo
    accounts:
      - user: 9b2f0c1e-6a55-4c1b-8d0e-3f6a2b7c9d10
        environment: productivo
        entities: [JES900109Q90]
"""
PRODUCTION_REQUESTOR = "9b2f0c1e-6a55-4c1b-8d0e-3f6a2b7c9d10"


def test_production_accepts_40_mb_and_refuses_test_accounts(sandbox):
    freeze(sandbox)
    assert sandbox.admin("PUT", "scenarios", data=PRODUCTION, headers={"Content-Type": "application/yaml"}).ok
    try:
        test_account = call(sandbox, "ASYNC_CONVERT_VERIFY", EMPTY_GUID)
        assert (
            not test_account.ok
            and test_account.code == 3104
            and "pruebas" in test_account.text("Response/Description")
        )
        # Nothing reads the document before it is due, so padding a real one is enough (and quick).
        sample = native_document(1_100_000)
        native = sample + b"<!--" + b"x" * (39_900_000 - len(sample) - 7) + b"-->"
        answer = call(sandbox, "ASYNC_CONVERT_NATIVE_XML", base64.b64encode(native).decode(), "GRANDE-40",
                      Requestor=PRODUCTION_REQUESTOR, User=PRODUCTION_REQUESTOR)  # fmt: skip
        assert answer.ok, answer.text("Response/Description")
        (job,) = sandbox.admin("GET", "jobs").json()["mysuite"]["jobs"]
        assert job["size"] == len(native) and job["state"] == "pending"
        # The journal keeps the start of Data1 and its length, not the 53 MB of base64.
        entry = sandbox.admin("GET", "requests", params={"limit": 1}).json()["requests"][0]
        assert f"[{len(base64.b64encode(native))} characters]" in entry["request"]
        assert "GRANDE-40" in entry["request"] and len(entry["request"]) < 8_000
    finally:
        sandbox.admin("POST", "reset")  # drop the 40 MB job before its timer is due


# --- refusals --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code", "active"),
    [
        ({"Requestor": "not-a-guid"}, 3101, "false"),
        ({"Requestor": "11111111-2222-4333-8444-555555555555"}, 3102, "false"),
        ({"User": "11111111-2222-4333-8444-555555555555"}, 3105, "true"),
        ({"Country": "GT"}, 3109, "true"),
        ({"Entity": "AAA010101AAA"}, 3106, "true"),
        ({"UserName": "JES900109Q90.Juan"}, 3107, "true"),
        ({"UserName": "MX.AAA010101AAA.Juan"}, 3107, "true"),
        ({"UserName": "MX.JES900109Q90.Pedro"}, 3108, "true"),
    ],
)
def test_account_problems_are_result_false_never_faults(sandbox, fields, code, active):
    answer = call(sandbox, "ASYNC_CONVERT_VERIFY", EMPTY_GUID, **fields)
    assert not answer.ok and answer.code == code and answer.text("Response/Description")
    assert answer.text("Request/RequestorActive") == active
    assert GUID.match(answer.text("Request/Requestor")) and GUID.match(answer.text("Request/User"))
    if code == 3101:
        assert answer.text("Request/Requestor") == EMPTY_GUID


def test_transactions_other_than_the_async_ones(sandbox):
    timbrar = call(sandbox, "TIMBRAR", "PGNmZGkvPg==")
    assert (
        not timbrar.ok
        and timbrar.code == 3120
        and "no está soportada por este sandbox" in timbrar.text("Response/Description")
    )
    assert timbrar.text("Request/Transaction") == "TIMBRAR"
    for name in ("NO_EXISTE", "timbrar", "", "<x>"):
        answer = call(sandbox, name.replace("<", "&lt;").replace(">", "&gt;"))
        assert not answer.ok and answer.code == 3121
        assert answer.text("Request/Transaction") == "NO_TRANSACTION"


def test_internal_id_and_document_are_checked(sandbox, native_1_5mb):
    freeze(sandbox)
    missing = call(sandbox, "ASYNC_CONVERT_NATIVE_XML", native_1_5mb, "")
    assert missing.code == 3133
    too_long = call(sandbox, "ASYNC_CONVERT_NATIVE_XML", native_1_5mb, "X" * 51)
    assert too_long.code == 3134 and "51" in too_long.text("Response/Description")
    assert call(sandbox, "ASYNC_CONVERT_NATIVE_XML", "", "A-1").code == 3130
    assert call(sandbox, "ASYNC_CONVERT_NATIVE_XML", "QUJD=x", "A-1").code == 3131
    assert accept(sandbox, native_1_5mb, "X" * 50)


def test_verify_and_retrieve_need_a_known_request_of_the_entity(sandbox):
    assert call(sandbox, "ASYNC_CONVERT_VERIFY", "abc").code == 3140
    unknown = call(sandbox, "ASYNC_RETRIEVE_DOCUMENT", "11111111-2222-4333-8444-555555555555")
    assert unknown.code == 3141 and "11111111-2222-4333-8444-555555555555" in unknown.text(
        "Response/Description"
    )


# --- failures --------------------------------------------------------------------------------------------


def test_malformed_native_xml_ends_in_status_3_with_base64_error(sandbox):
    freeze(sandbox)
    broken = native_document(1_200_000).replace(b"</fx:Totales>", b"</fx:Totalez>", 1)
    guid = accept(sandbox, base64.b64encode(broken).decode(), "ROTO-1")
    advance(sandbox, "1m")
    record = verify(sandbox, guid)
    assert record["Status"] == 3 and record["Uuid"] == guid and record["DocumentGUID"] is None
    assert "no está bien formado" in base64.b64decode(record["ErrorMsg"]).decode()
    failed = call(sandbox, "ASYNC_RETRIEVE_DOCUMENT", guid)
    assert not failed.ok and failed.code == 3143 and "Status 3" in failed.text("Response/Description")


def test_issuer_must_match_the_entity(sandbox):
    freeze(sandbox)
    other = native_document(1_200_000, entity="MOC900101AB1")
    guid = accept(sandbox, base64.b64encode(other).decode(), "OTRO-EMISOR")
    advance(sandbox, "1m")
    record = verify(sandbox, guid)
    assert record["Status"] == 3 and "MOC900101AB1" in base64.b64decode(record["ErrorMsg"]).decode()


RULES = """
rules:
  - id: falla-conversion
    provider: mysuite
    operation: ASYNC_CONVERT_NATIVE_XML
    match: {internal_id: "FALLA-*"}
    outcome: {code: 301, message: "XML mal formado (definido por escenario)"}
  - id: consulta-caida
    provider: mysuite
    operation: ASYNC_CONVERT_VERIFY
    match: {request_id: "22222222-2222-4222-8222-222222222222"}
    outcome: {fault: {kind: http_status, status: 503}}
"""


def test_scenario_rules_match_on_the_transaction_name(sandbox, native_1_5mb):
    freeze(sandbox)
    assert sandbox.admin("PUT", "scenarios", data=RULES, headers={"Content-Type": "application/yaml"}).ok
    guid = accept(sandbox, native_1_5mb, "FALLA-7")  # accepted now, fails when processed
    assert verify(sandbox, guid)["Status"] == 1
    advance(sandbox, "1m")
    record = verify(sandbox, guid)
    assert record["Status"] == 3
    assert base64.b64decode(record["ErrorMsg"]).decode() == "XML mal formado (definido por escenario)"
    down = sandbox.post_soap(PATH, envelope("ASYNC_CONVERT_VERIFY", "22222222-2222-4222-8222-222222222222"))
    assert down.status_code == 503
    journal = sandbox.admin("GET", "requests", params={"operation": "ASYNC_CONVERT_NATIVE_XML"}).json()
    assert journal["count"] == 1 and journal["requests"][0]["summary"]["internal_id"] == "FALLA-7"


def test_admin_jobs_lists_the_sessions_jobs(sandbox, native_1_5mb):
    freeze(sandbox)
    guid = accept(sandbox, native_1_5mb, "ADMIN-1")
    (job,) = sandbox.admin("GET", "jobs").json()["mysuite"]["jobs"]
    assert job["request_id"] == guid and job["state"] == "pending" and job["internal_id"] == "ADMIN-1"
    advance(sandbox, "1m")
    verify(sandbox, guid)
    (job,) = sandbox.admin("GET", "jobs").json()["mysuite"]["jobs"]
    assert job["state"] == "done" and GUID.match(job["uuid"])
    # The stamped CFDI is known to the SAT side shared by every provider.
    (entry,) = [e for e in sandbox.admin("GET", "registry").json()["uuids"] if e["uuid"] == job["uuid"]]
    assert entry["status"] == "vigente" and entry["rfc_emisor"] == ENTITY and entry["provider"] == "mysuite"


# --- satcfdi's client ------------------------------------------------------------------------------------


def test_satcfdi_request_shape_is_understood(sandbox, native_1_5mb):
    """satcfdi's MYSuite client only stamps (TIMBRAR, fixed hosts); its envelope builder is what we can
    point at the sandbox: ``ws:``-prefixed children, pretty-printed, SOAP 1.1."""
    mysuite = pytest.importorskip("satcfdi.pacs.mysuite")
    freeze(sandbox)

    def post(transaction: str, data1: str, data2: str | None = None) -> Answer:
        payload = mysuite.request_transaction(
            mysuite.RequestTransaction(
                requestor=REQUESTOR,
                transaction=transaction,
                country="MX",
                entity=ENTITY,
                user=REQUESTOR,
                user_name=USER_NAME,
                data1=data1,
                data2=data2,
            )
        )
        body = etree.tostring(mysuite.soap_envelope(payload), encoding="UTF-8", pretty_print=True)
        return Answer(
            sandbox.post_soap(
                "/mx.com.fact.wsfront/FactWSFront.asmx",
                body,
                action="http://www.fact.com.mx/schema/ws/RequestTransaction",
            )
        )

    accepted = post("ASYNC_CONVERT_NATIVE_XML", native_1_5mb, "SATCFDI-1")
    assert accepted.ok
    advance(sandbox, "1m")
    verified = post("ASYNC_CONVERT_VERIFY", accepted.data(1))
    assert json.loads(verified.decoded(2))["Status"] == 2
    stamped = post("TIMBRAR", base64.b64encode(b"<cfdi/>").decode())
    assert not stamped.ok and stamped.code == 3120
