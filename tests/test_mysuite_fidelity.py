"""MYSuite "Grandes Asíncrono" against its document (002_5031d2d2256e8619.txt), with raw SOAP.

Every request is the document's own envelope sent with requests; answers are read with lxml. The
tests name the document's line they prove; ``docs/fidelity.md`` lists them row by row.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import zipfile
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
import requests
from lxml import etree

from mockserver.clock import MEXICO_CITY
from mockserver.providers.mysuite.documents import CFDI_NS, TFD_NS
from mockserver.server import BackgroundServer
from mockserver.settings import Settings
from mockserver.testing.mysuite import native_document as native_sample

from helpers import smtp_server

NS = "http://www.fact.com.mx/schema/ws"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
PATH = "/factwsfront.asmx"  # the async hosts' path (002:8, 002:15)
REQUESTOR = "0c320b03-d4f1-47bc-9fb4-77995f9bf33e"
ENTITY = "JES900109Q90"
USER_NAME = "MX.JES900109Q90.Juan"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DOC_XML_FIELDS = ["Entity", "Uuid", "InternalID", "EnrolledTimeStamp", "Status", "DocumentGUID", "Year", "Batch",
                  "Serial"]  # fmt: skip  (002:49, ErrorMsg absent: it is null there)
DOC_JSON_FIELDS = [*DOC_XML_FIELDS, "ErrorMsg"]  # 002:51
DUPLICATE_TEXT = ("El número interno proporcionado ya se encuentra registrado. Consulte ResponseData1 para obtener "
                  "el Id de la solicitud existente.")  # fmt: skip  (002:76)


def envelope(transaction: str, data1: str = "", data2: str = "") -> str:
    """The document's request (002:28, 002:34, 002:53-67) with the sandbox's test requestor."""
    return (
        '<?xml version="1.0" encoding="utf-8"?> <soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"> '
        f'<soap:Body> <RequestTransaction xmlns="{NS}"> <Requestor>{REQUESTOR}</Requestor> '
        f"<Transaction>{transaction}</Transaction> <Country>MX</Country> <Entity>{ENTITY}</Entity> "
        f"<User>{REQUESTOR}</User> <UserName>{USER_NAME}</UserName> <Data1>{data1}</Data1> <Data2>{data2}</Data2> "
        "<Data3></Data3> </RequestTransaction> </soap:Body> </soap:Envelope>"
    )


class Result:
    def __init__(self, response: requests.Response) -> None:
        assert response.status_code == 200, response.text[:300]
        root = etree.fromstring(response.content)
        self.el = root.find(f"{{*}}Body/{{{NS}}}RequestTransactionResponse/{{{NS}}}RequestTransactionResult")
        assert self.el is not None, response.text[:300]

    def text(self, path: str) -> str | None:
        found = self.el.find("/".join(f"{{{NS}}}{p}" for p in path.split("/")))
        return None if found is None else (found.text or "")

    @property
    def ok(self) -> bool:
        return self.text("Response/Result") == "true"

    def data(self, n: int) -> str:
        return self.text(f"ResponseData/ResponseData{n}") or ""


def send(base: str, transaction: str, data1: str = "", data2: str = "") -> Result:
    response = requests.post(
        base + PATH, data=envelope(transaction, data1, data2).encode("utf-8"), timeout=60,
        headers={"Content-Type": "text/xml; charset=utf-8",
                 "SOAPAction": '"http://www.fact.com.mx/schema/ws/RequestTransaction"'},
    )  # fmt: skip
    return Result(response)


def clock(base: str, **body: str) -> None:
    assert requests.post(f"{base}/__admin/clock", json=body, timeout=10).ok


def document(size: int = 1_100_000, **kw) -> str:
    return base64.b64encode(native_sample(size, **kw)).decode("ascii")


def convert(base: str, internal_id: str, native: str | None = None) -> str:
    accepted = send(base, "ASYNC_CONVERT_NATIVE_XML", native or document(), internal_id)
    assert accepted.ok and accepted.text("Response/Code") == "1", accepted.text("Response/Description")
    return accepted.data(1)


def verify(base: str, request_id: str) -> tuple[etree._Element, dict, bytes]:
    answer = send(base, "ASYNC_CONVERT_VERIFY", request_id)
    assert answer.ok, answer.text("Response/Description")
    raw_xml = base64.b64decode(answer.data(1))
    return etree.fromstring(raw_xml), json.loads(base64.b64decode(answer.data(2))), raw_xml


def tfd_uuid(base: str, request_id: str) -> str:
    retrieved = send(base, "ASYNC_RETRIEVE_DOCUMENT", request_id)
    assert retrieved.ok
    link = base64.b64decode(retrieved.data(1)).decode()
    with zipfile.ZipFile(io.BytesIO(requests.get(link, timeout=30).content)) as archive:
        cfdi = etree.fromstring(archive.read(archive.namelist()[0]), etree.XMLParser(huge_tree=True))
    return cfdi.find(f"{{{CFDI_NS}}}Complemento/{{{TFD_NS}}}TimbreFiscalDigital").get("UUID")


@pytest.fixture
def base(sandbox) -> str:
    clock(sandbox.url, freeze="2018-11-29T11:49:15")  # the document's example instant, Mexico City
    return sandbox.url


# ---------------------------------------------------------------- ASYNC_CONVERT_VERIFY


def test_verify_of_a_generated_cfdi_has_the_documents_fields_and_forms(base):
    request_id = convert(base, "db062587-e759-4c06-b3ff-fac0ee25d295")
    assert GUID.match(request_id)  # 002:31-32: a GUID like fd339e5c-3685-4773-a3ea-be28c8b92dfe
    clock(base, advance="1m")
    xml, as_json, raw = verify(base, request_id)

    # ResponseData1 (002:49): <AsyncRequest> declaring xsi and xsd, the fields in the example's order.
    assert raw.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert xml.tag == "AsyncRequest" and xml.nsmap == {"xsi": XSI, "xsd": XSD}
    assert [c.tag for c in xml] == DOC_XML_FIELDS
    assert xml.findtext("Entity") == ENTITY
    assert xml.findtext("Uuid") == request_id  # 002:39: the request's id, the one given in Data1
    assert xml.findtext("InternalID") == "db062587-e759-4c06-b3ff-fac0ee25d295"
    assert xml.findtext("EnrolledTimeStamp") == "2018-11-29T11:49:15"  # 002:49's form, no offset
    assert xml.findtext("Status") == "2"
    document_guid = xml.findtext("DocumentGUID")
    assert GUID.match(document_guid) and document_guid == tfd_uuid(base, request_id).lower()  # 002:43
    assert xml.findtext("Year") == "2018"
    assert xml.find("Batch") is not None and xml.findtext("Serial")

    # ResponseData2 (002:51): the same record as JSON.
    assert list(as_json) == DOC_JSON_FIELDS
    assert as_json["Uuid"] == request_id and as_json["DocumentGUID"] == document_guid
    assert as_json["EnrolledTimeStamp"] == "/Date(1543513755000)/"  # the document's own value
    assert as_json["Status"] == 2 and as_json["Year"] == 2018
    assert isinstance(as_json["Batch"], str) and isinstance(as_json["Serial"], str)
    assert as_json["ErrorMsg"] is None  # 002:51: null when there is no error


def test_verify_while_pending_gives_values_only_for_what_is_known(base):
    request_id = convert(base, "PENDIENTE-1")
    xml, as_json, _ = verify(base, request_id)
    assert xml.findtext("Status") == "1" and as_json["Status"] == 1
    assert xml.findtext("Uuid") == request_id == as_json["Uuid"]  # known from the start
    # 002:43-47: DocumentGUID, Year, Batch and Serial only have a value with Status 2, ErrorMsg with 3.
    assert [c.tag for c in xml] == ["Entity", "Uuid", "InternalID", "EnrolledTimeStamp", "Status"]
    assert list(as_json) == DOC_JSON_FIELDS
    assert [as_json[k] for k in ("DocumentGUID", "Year", "Batch", "Serial", "ErrorMsg")] == [None] * 5


def test_verify_of_a_failed_request_carries_the_error_in_base64(base):
    bad = base64.b64encode(native_sample(1_100_000).replace(b"<fx:Version>8<", b"<fx:Version>5<")).decode()
    request_id = convert(base, "CON-ERROR-1", bad)
    clock(base, advance="1m")
    xml, as_json, _ = verify(base, request_id)
    assert xml.findtext("Status") == "3" and as_json["Status"] == 3
    assert [c.tag for c in xml] == ["Entity", "Uuid", "InternalID", "EnrolledTimeStamp", "Status", "ErrorMsg"]
    message = base64.b64decode(xml.findtext("ErrorMsg")).decode("utf-8")  # 002:47: "codificado Base64"
    assert "fx:Version 5" in message and as_json["ErrorMsg"] == xml.findtext("ErrorMsg")
    assert as_json["DocumentGUID"] is None and as_json["Year"] is None


def test_enrolled_timestamp_is_mexico_city_time_in_both_forms(sandbox):
    clock(sandbox.url, freeze="2026-07-01T18:30:45.678+00:00")  # summer: still UTC-6 (no DST since 2022)
    request_id = convert(sandbox.url, "HORA-1")
    xml, as_json, _ = verify(sandbox.url, request_id)
    assert xml.findtext("EnrolledTimeStamp") == "2026-07-01T12:30:45"
    ms = int(re.fullmatch(r"/Date\((\d+)\)/", as_json["EnrolledTimeStamp"])[1])
    assert datetime.fromtimestamp(ms / 1000, UTC) == datetime(2026, 7, 1, 18, 30, 45, tzinfo=UTC)
    local = datetime.fromtimestamp(ms / 1000, MEXICO_CITY).strftime("%Y-%m-%dT%H:%M:%S")
    assert local == xml.findtext("EnrolledTimeStamp")


# ---------------------------------------------------------------- 3196


def test_repeated_internal_number_is_3196_with_the_text_in_data(base):
    native = document()
    first = convert(base, "FACT-3196", native)
    again = send(base, "ASYNC_CONVERT_NATIVE_XML", native, "FACT-3196")
    assert again.text("Response/Result") == "false" and again.text("Response/Code") == "3196"
    assert again.text("Response/Data") == DUPLICATE_TEXT  # 002:76: "indicando en <Data>"
    assert again.data(1) == first  # 002:33 and 002:76: the existing request's id in ResponseData1
    # The first request is untouched: verifying by the id from the 3196 answer finds it.
    assert verify(base, again.data(1))[1]["InternalID"] == "FACT-3196"


# ---------------------------------------------------------------- mail distribution


class _Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls this hook by name
        self.received.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


def test_a_generated_cfdi_is_mailed_with_xml_and_pdf_when_the_native_document_asks(sandbox):
    inbox = _Inbox()
    with smtp_server(inbox) as controller:
        settings = Settings(port=0, memory=True, smtp_host="127.0.0.1", smtp_port=controller.port,
                            mail_from="facturas@pac-mock.test")  # fmt: skip
        with BackgroundServer(settings) as srv:
            base = f"{srv.url}/__session/distribucion"
            clock(base, freeze="2026-01-10T10:00:00")
            native = document(distribution="conta@example.mx; compras@example.mx")
            request_id = convert(base, "CORREO-1", native)
            silent = convert(base, "SIN-CORREO-1")  # no fx:Procesamiento: nothing is mailed
            clock(base, advance="1m")
            assert verify(base, request_id)[1]["Status"] == 2 and verify(base, silent)[1]["Status"] == 2
            waited = requests.get(f"{base}/__admin/mail/wait", params={"count": 1, "timeout": 30}, timeout=40).json()
            [record] = waited["messages"]
            uuid = tfd_uuid(base, request_id)
            assert record["provider"] == "mysuite" and record["uuid"] == uuid
            assert [a["filename"] for a in record["attachments"]] == [
                f"{ENTITY}_A1_{uuid}.xml", f"{ENTITY}_A1_{uuid}.pdf"]  # fmt: skip
            for _ in range(200):
                if inbox.received:
                    break
                threading.Event().wait(0.05)
            [(rcpt, content)] = inbox.received
            assert rcpt == ["conta@example.mx", "compras@example.mx"]
            mail = message_from_bytes(content, policy=policy.default)
            assert mail["From"] == "facturas@pac-mock.test" and uuid in mail["Subject"]
            parts = {p.get_filename(): p for p in mail.iter_attachments()}
            xml_part, pdf_part = parts[f"{ENTITY}_A1_{uuid}.xml"], parts[f"{ENTITY}_A1_{uuid}.pdf"]
            assert xml_part.get_content_type() == "application/xml"
            cfdi = etree.fromstring(xml_part.get_payload(decode=True), etree.XMLParser(huge_tree=True))
            assert cfdi.find(f"{{{CFDI_NS}}}Complemento/{{{TFD_NS}}}TimbreFiscalDigital").get("UUID") == uuid
            assert pdf_part.get_content_type() == "application/pdf"
            assert pdf_part.get_payload(decode=True).startswith(b"%PDF-")


# ---------------------------------------------------------------- size gates


def test_default_limits_are_the_documents(base):
    from mockserver.scenarios import default_path, load_file

    settings = load_file(default_path()).provider("mysuite")
    test, production = settings.size_limit("pruebas"), settings.size_limit("productivo")
    # 002:10 "mayor a 1 MB y hasta 4 MB"; 002:17 "superior a 1 MB teniendo como límite máximo 40MB".
    assert (test.above, test.max, test.measure) == (1_000_000, 4_000_000, "xml")
    assert (production.above, production.max) == (1_000_000, 40_000_000)
    assert not production.accepts(1_000_000) and production.accepts(40_000_000)
    assert not production.accepts(40_000_001)


def test_size_gate_measures_the_decoded_native_xml_by_default(base):
    # 900 kB of XML is 1.2 MB of base64 in Data1: under 1 MB as XML, so "false" (002:11).
    small = send(base, "ASYNC_CONVERT_NATIVE_XML", document(900_000), "CHICO-1")
    assert small.text("Response/Result") == "false" and small.text("Response/Code") == "3132"
    assert "del XML nativo" in small.text("Response/Description")
    # 3.5 MB of XML is 4.67 MB of base64: accepted, the XML is what counts.
    assert convert(base, "MEDIANO-1", document(3_500_000))
    big = send(base, "ASYNC_CONVERT_NATIVE_XML", document(4_100_000), "GRANDE-1")
    assert big.text("Response/Result") == "false" and big.text("Response/Code") == "3132"


def test_size_gate_can_measure_data1s_base64_text(base):
    overlay = {"providers": {"mysuite": {"size_limits": {"pruebas": {"above": "1MB", "max": "4MB",
                                                                     "measure": "data1"}}}}}  # fmt: skip
    assert requests.put(f"{base}/__admin/scenarios", json=overlay, timeout=10).ok
    assert convert(base, "CHICO-DATA1", document(900_000))  # 1.2 MB of base64
    big = send(base, "ASYNC_CONVERT_NATIVE_XML", document(3_500_000), "MEDIANO-DATA1")  # 4.67 MB of base64
    assert big.text("Response/Result") == "false" and big.text("Response/Code") == "3132"
    assert "de Data1 (base64)" in big.text("Response/Description")


def test_year_is_the_year_of_the_cfdis_issue_date(sandbox):
    clock(sandbox.url, freeze="2019-01-01T00:00:30")
    native = native_sample(1_100_000).replace(b"<fx:TiempoDeEmision>0<", b"<fx:TiempoDeEmision>2018-12-31T23:59:00<")
    request_id = convert(sandbox.url, "FIN-DE-ANO", base64.b64encode(native).decode())
    clock(sandbox.url, advance="1m")
    xml, as_json, _ = verify(sandbox.url, request_id)
    assert xml.findtext("Year") == "2018" and as_json["Year"] == 2018  # 002:44: "fecha de emisión"
    retrieved = send(sandbox.url, "ASYNC_RETRIEVE_DOCUMENT", request_id)
    assert retrieved.text("Response/Identifier/AYear") == "2018"
    assert retrieved.text("Response/Identifier/DocumentGUID") == as_json["DocumentGUID"]


def test_processing_time_grows_with_the_size_of_data1(base):
    # 002:18: the bigger the document, the longer the server takes (default: 2 s + 1 s per MB).
    small = convert(base, "TIEMPO-1", document(1_100_000))
    large = convert(base, "TIEMPO-3", document(3_500_000))
    clock(base, advance="4s")
    assert verify(base, small)[1]["Status"] == 2 and verify(base, large)[1]["Status"] == 1
    clock(base, advance="2s")
    assert verify(base, large)[1]["Status"] == 2


# ---------------------------------------------------------------- ASYNC_RETRIEVE_DOCUMENT


def test_retrieve_document_gives_base64_links_to_the_xml_and_the_pdf(base):
    request_id = convert(base, "LIGAS-1")
    clock(base, advance="1m")
    answer = send(base, "ASYNC_RETRIEVE_DOCUMENT", request_id)
    assert answer.ok and answer.text("Response/Identifier/InternalID") == "LIGAS-1"  # like RETRIEVE_DOCUMENT
    xml_link, pdf_link = (base64.b64decode(answer.data(n)).decode() for n in (1, 3))  # 002:72-73
    assert answer.data(2) == ""
    kinds = []
    for link in (xml_link, pdf_link):
        got = requests.get(link, timeout=30)
        assert got.status_code == 200 and got.headers["Content-Type"] == "application/zip"  # 002:26: ZIP files
        with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
            (name,) = archive.namelist()
            kinds.append(name.rsplit(".", 1)[1])
            if name.endswith(".pdf"):
                assert archive.read(name).startswith(b"%PDF-")
    assert kinds == ["xml", "pdf"]  # 002:71: always the XML and the PDF
    again = send(base, "ASYNC_RETRIEVE_DOCUMENT", request_id)
    assert base64.b64decode(again.data(1)).decode() != xml_link  # 002:75: new links on every call


# ---------------------------------------------------------------- the sandbox's own codes


def test_sandbox_codes_for_inactive_and_unauthorised_requestors_and_pending_requests(base):
    inactive, limited = "11111111-2222-4333-8444-555555555555", "22222222-3333-4444-8555-666666666666"
    overlay = {"providers": {"mysuite": {"accounts": [
        {"user": REQUESTOR, "environment": "pruebas", "entities": [ENTITY], "user_names": [USER_NAME]},
        {"user": inactive, "state": "inactive", "entities": [ENTITY]},
        {"user": limited, "permissions": [], "entities": [ENTITY]},
    ]}}}  # fmt: skip
    assert requests.put(f"{base}/__admin/scenarios", json=overlay, timeout=10).ok

    def as_requestor(requestor: str) -> Result:
        body = envelope("ASYNC_CONVERT_VERIFY", REQUESTOR).replace(REQUESTOR, requestor)
        return Result(requests.post(base + PATH, data=body.encode(), timeout=30,
                                    headers={"Content-Type": "text/xml; charset=utf-8"}))  # fmt: skip

    refused = as_requestor(inactive)
    assert refused.text("Response/Code") == "3103" and refused.text("Request/RequestorActive") == "false"
    assert as_requestor(limited).text("Response/Code") == "3110"
    request_id = convert(base, "EN-PROCESO-1")
    pending = send(base, "ASYNC_RETRIEVE_DOCUMENT", request_id)
    assert pending.text("Response/Result") == "false" and pending.text("Response/Code") == "3142"
    assert "Status 1" in pending.text("Response/Description")
