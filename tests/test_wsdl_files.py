"""The project's own WSDL files: they load in zeep, expose the served services, and describe the
same messages as the providers' published WSDLs (so a client generated from either is the same)."""

from __future__ import annotations

from pathlib import Path

import pytest
import zeep
from lxml import etree
from zeep.transports import Transport
from zeep.xsd import Any as XsdAny

from helpers import project_wsdl, reference_file, reference_wsdl
from wsdl_schema import assert_valid_body, schema_for

SF_WSDL = project_wsdl("solucionfactible", "Cancelacion.wsdl")
XPD_PRUEBAS_WSDL = project_wsdl("expidetufactura", "CancelacionPruebas.wsdl")
XPD_PRODUCTIVO_WSDL = project_wsdl("expidetufactura", "CancelacionProductivo.wsdl")
MYSUITE_WSDL = project_wsdl("mysuite", "FactWSFront.wsdl")

SF_NS = "http://ws.cfdi.solucionfactible.com"
XPD_NS = "http://service.xpd.mx/"
MYSUITE_NS = "http://www.fact.com.mx/schema/ws"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

SF_OPERATIONS = {
    "cancelarAsincrono",
    "getStatusCancelacionAsincrona",
    "enviarSolicitudCancelacionAsincrono",
    "cancelar",
    "enviarSolicitudCancelacion",
    "cancelarSectorPrimario",
}
ASYNC_TRANSACTIONS = ("ASYNC_CONVERT_NATIVE_XML", "ASYNC_CONVERT_VERIFY", "ASYNC_RETRIEVE_DOCUMENT")


class OfflineTransport(Transport):
    """Loads local files only: a WSDL that needs the network is a broken WSDL here."""

    def _load_remote_data(self, url):
        raise AssertionError(f"WSDL loading tried to fetch {url}")


def _client(path: Path) -> zeep.Client:
    return zeep.Client(wsdl=str(path), transport=OfflineTransport())


def _ports(client: zeep.Client) -> dict[str, dict[str, object]]:
    return {name: dict(service.ports) for name, service in client.wsdl.services.items()}


def _describe(element, depth: int = 0) -> tuple:
    """Wire-relevant shape of an element: qualified name, occurrences, nillability, type."""
    if isinstance(element, XsdAny):
        return ("any", element.min_occurs, element.max_occurs)
    xsd_type = element.type
    type_name = xsd_type.qname.text if xsd_type.qname is not None else None
    children: tuple = ()
    if hasattr(xsd_type, "elements") and depth < 6:
        children = tuple(_describe(child, depth + 1) for _, child in xsd_type.elements)
    return (
        element.qname.text,
        element.min_occurs,
        element.max_occurs,
        bool(element.nillable),
        type_name,
        children,
    )


def _soap_operations(client: zeep.Client, soap_version: str) -> dict[str, object]:
    """Operations of the first binding of the given SOAP version ("11" or "12")."""
    for binding in client.wsdl.bindings.values():
        if type(binding).__name__ == f"Soap{soap_version}Binding":
            return dict(binding._operations)
    raise AssertionError(f"no SOAP {soap_version} binding")


def _sample_value(element):
    """A value for every field, so that serialization exercises the whole request shape."""
    xsd_type = element.type
    if hasattr(xsd_type, "elements"):
        value = {name: _sample_value(child) for name, child in xsd_type.elements}
    else:
        local = xsd_type.qname.localname if xsd_type.qname is not None else "string"
        value = {"base64Binary": b"\x00payload", "int": 7, "boolean": True}.get(local, "texto")
    return [value, value] if element.max_occurs == "unbounded" else value


def _request_bodies(client: zeep.Client, soap_version: str) -> dict[str, bytes]:
    bodies = {}
    for name, operation in _soap_operations(client, soap_version).items():
        body_element = operation.input.body
        kwargs = {field: _sample_value(child) for field, child in body_element.type.elements}
        envelope = operation.input.serialize(**kwargs).content
        body = envelope.find("{*}Body")[0]
        bodies[name] = etree.tostring(body, method="c14n")
    return bodies


# --- Solución Factible -------------------------------------------------------------------------


def test_sf_wsdl_services_ports_and_actions():
    client = _client(SF_WSDL)
    ports = _ports(client)
    assert list(ports) == ["Cancelacion"]
    expected_ports = {
        "CancelacionHttpsSoap11Endpoint": "Soap11Binding",
        "CancelacionHttpsSoap12Endpoint": "Soap12Binding",
        "CancelacionHttpsEndpoint": "HttpPostBinding",
    }
    assert {
        name: type(port.binding).__name__ for name, port in ports["Cancelacion"].items()
    } == expected_ports
    # zeep binds to the first port by default; clients hard-code the HTTPS SOAP 1.1 one.
    assert next(iter(ports["Cancelacion"])) == "CancelacionHttpsSoap11Endpoint"
    for name, port in ports["Cancelacion"].items():
        assert port.binding_options["address"] == f"http://localhost:8080/ws/services/Cancelacion.{name}/"
        assert set(port.binding._operations) == SF_OPERATIONS
        if name == "CancelacionHttpsEndpoint":
            continue  # Axis2's plain-XML binding: no SOAPAction, no envelope
        for op_name, operation in port.binding._operations.items():
            assert operation.soapaction == f"urn:{op_name}"
            assert operation.style == "document"
            assert operation.input.body.qname.text == f"{{{SF_NS}}}{op_name}"
            assert operation.output.body.qname.text == f"{{{SF_NS}}}{op_name}Response"


def _http_operations(path) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    tree = etree.parse(str(path))
    ns = {"w": "http://schemas.xmlsoap.org/wsdl/", "h": "http://schemas.xmlsoap.org/wsdl/http/",
          "m": "http://schemas.xmlsoap.org/wsdl/mime/"}
    (binding,) = tree.xpath("//w:binding[h:binding]", namespaces=ns)
    return {
        op.get("name"): (
            op.xpath("string(h:operation/@location)", namespaces=ns),
            tuple(op.xpath("(w:input|w:output)/m:content/@type", namespaces=ns)),
        )
        for op in binding.findall("{http://schemas.xmlsoap.org/wsdl/}operation")
    }


def test_sf_wsdl_http_binding_posts_plain_xml_per_operation():
    ops = _http_operations(SF_WSDL)
    assert set(ops) == SF_OPERATIONS
    assert all(location == f"Cancelacion/{name}" and types == ("text/xml", "text/xml")
               for name, (location, types) in ops.items())


def test_sf_request_children_in_order():
    operations = _soap_operations(_client(SF_WSDL), "11")
    children = {
        name: [child.qname.text for _, child in op.input.body.type.elements]
        for name, op in operations.items()
    }
    q = lambda *names: [f"{{{SF_NS}}}{n}" for n in names]  # noqa: E731
    assert children["cancelarAsincrono"] == q(
        "usuario",
        "password",
        "uuid",
        "rfcEmisor",
        "emailNotifica",
        "csdCer",
        "csdKey",
        "csdPassword",
        "properties",
    )
    assert children["cancelar"] == q(
        "usuario", "password", "rfcEmisor", "uuids", "derCertCSD", "derKeyCSD", "contrasenaCSD", "properties"
    )
    assert children["cancelarSectorPrimario"] == q("usuario", "password", "uuid")


def test_sf_schema_accepts_axis2_response_and_rejects_misplaced_children():
    good = f"""<ns:getStatusCancelacionAsincronaResponse xmlns:ns="{SF_NS}">
      <ns:return xmlns:ax="http://response.cancelacion.commons.timbrado.solucionfactible.com/xsd"
                 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="ax:StatusCancelacionResponse">
        <ax:acuseSat xsi:nil="true"/><ax:mensaje>en proceso</ax:mensaje><ax:status>211</ax:status>
      </ns:return></ns:getStatusCancelacionAsincronaResponse>"""
    assert_valid_body(SF_WSDL, good)
    wrong_namespace = good.replace("<ax:status>211</ax:status>", "<ns:status>211</ns:status>")
    with pytest.raises(AssertionError, match="status"):
        assert_valid_body(SF_WSDL, wrong_namespace)
    wrong_order = good.replace(
        "<ax:mensaje>en proceso</ax:mensaje><ax:status>211</ax:status>",
        "<ax:status>211</ax:status><ax:mensaje>en proceso</ax:mensaje>",
    )
    with pytest.raises(AssertionError, match="mensaje"):
        assert_valid_body(SF_WSDL, wrong_order)
    with pytest.raises(AssertionError, match="status"):
        assert_valid_body(SF_WSDL, good.replace(">211<", ">doscientos<"))


# --- Expide Tu Factura -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "env"), [(XPD_PRUEBAS_WSDL, "Pruebas"), (XPD_PRODUCTIVO_WSDL, "Productivo")]
)
def test_xpd_wsdl_services_ports_and_actions(path, env):
    client = _client(path)
    ports = _ports(client)
    assert list(ports) == [f"Cancelacion{env}"]
    assert list(ports[f"Cancelacion{env}"]) == [f"Cancelacion{env}Port"]
    port = ports[f"Cancelacion{env}"][f"Cancelacion{env}Port"]
    assert type(port.binding).__name__ == "Soap11Binding"
    assert port.binding.name.localname == f"Cancelacion{env}SoapBinding"
    assert port.binding_options["address"] == f"http://localhost:8080/cancelacion/Cancelacion{env}"
    assert set(port.binding._operations) == {"cancelar"}
    operation = port.binding._operations["cancelar"]
    assert operation.soapaction == ""
    assert operation.input.body.qname.text == f"{{{XPD_NS}}}cancelar"
    # JAX-WS wrappers: children are unqualified.
    assert [child.qname.text for _, child in operation.input.body.type.elements] == [
        "usuario",
        "token",
        "xmlBytes",
    ]
    result = operation.output.body.type.elements[0][1]
    assert result.qname.text == "return"
    assert [c.qname.text for _, c in result.type.elements] == [
        "acuse",
        "codEstatus",
        "codMensaje",
        "estatusUUIDs",
        "uuids",
    ]


def test_xpd_schema_accepts_cxf_response():
    response = f"""<ns2:cancelarResponse xmlns:ns2="{XPD_NS}"><return><acuse>&lt;Acuse/&gt;</acuse>
      <codEstatus>200</codEstatus><codMensaje>OK</codMensaje>
      <estatusUUIDs>201</estatusUUIDs><estatusUUIDs>202</estatusUUIDs>
      <uuids>6E1F8A5C-2A7B-4F0E-9C1D-3B5A7E9F1C2D</uuids><uuids>0B8C2E4A-6D1F-4A3B-8E5C-7F9A1B3D5E7F</uuids>
      </return></ns2:cancelarResponse>"""
    assert_valid_body(XPD_PRUEBAS_WSDL, response)
    qualified = response.replace("<return>", "<ns2:return>").replace("</return>", "</ns2:return>")
    with pytest.raises(AssertionError):
        assert_valid_body(XPD_PRUEBAS_WSDL, qualified)


# --- MYSuite -----------------------------------------------------------------------------------


def test_mysuite_wsdl_services_ports_and_actions():
    ports = _ports(_client(MYSUITE_WSDL))
    assert list(ports) == ["FactWSFront"]
    assert {name: type(port.binding).__name__ for name, port in ports["FactWSFront"].items()} == {
        "FactWSFrontSoap": "Soap11Binding",
        "FactWSFrontSoap12": "Soap12Binding",
    }
    for port in ports["FactWSFront"].values():
        assert port.binding_options["address"] == "http://localhost:8080/mx.com.fact.wsfront/factwsfront.asmx"
        assert set(port.binding._operations) == {"RequestTransaction"}
        operation = port.binding._operations["RequestTransaction"]
        assert operation.soapaction == f"{MYSUITE_NS}/RequestTransaction"
        assert [c.qname.text for _, c in operation.input.body.type.elements] == [
            f"{{{MYSUITE_NS}}}{name}"
            for name in (
                "Requestor",
                "Transaction",
                "Country",
                "Entity",
                "User",
                "UserName",
                "Data1",
                "Data2",
                "Data3",
            )
        ]


def test_mysuite_types_orders_and_required_fields():
    schema = schema_for(MYSUITE_WSDL)

    def shape(type_name):
        xsd_type = schema.maps.types[f"{{{MYSUITE_NS}}}{type_name}"]
        return [(e.local_name, e.min_occurs) for e in xsd_type.content.iter_elements()]

    assert [name for name, _ in shape("TransactionTag")] == ["Request", "Response", "ResponseData"]
    assert shape("FactRequest") == [
        ("Requestor", 1), ("RequestorName", 0), ("RequestorActive", 1), ("Transaction", 1), ("Country", 0),
        ("Entity", 0), ("User", 1), ("UserName", 0), ("Id", 1), ("TimeStamp", 1),
    ]  # fmt: skip
    assert shape("FactResponse") == [
        ("Result", 1), ("TimeStamp", 1), ("LastResult", 0), ("Code", 1), ("Description", 0), ("Hint", 0),
        ("Data", 0), ("Processor", 0), ("Identifier", 0), ("BatchIdentifier", 0),
    ]  # fmt: skip
    assert [name for name, _ in shape("FactResponseData")] == [
        "ResponseData1", "ResponseData2", "ResponseData3", "ResponseDataSet",
    ]  # fmt: skip
    doc_id = [name for name, _ in shape("DocID")]
    assert len(doc_id) == 32 and doc_id[:3] == ["Country", "Entity", "FiscalName"]
    assert doc_id[-2:] == ["Observaciones", "ObservacionesHtml"]
    assert [name for name, _ in shape("BatchID")] == [
        "BatchId", "BatchTimeStamp", "BatchRequestorCountry", "BatchRequestorEntity", "BatchPosition",
    ]  # fmt: skip
    guid = schema.maps.types["{http://microsoft.com/wsdl/types/}guid"]
    assert guid.is_valid("0c320b03-d4f1-47bc-9fb4-77995f9bf33e")
    assert not guid.is_valid("not-a-guid")


def test_mysuite_transactions_enumeration():
    enumeration = schema_for(MYSUITE_WSDL).maps.types[f"{{{MYSUITE_NS}}}Transactions"].enumeration
    assert len(enumeration) == len(set(enumeration)) == 205
    assert {"TIMBRAR", "CONVERT_NATIVE_XML", "RETRIEVE_DOCUMENT", *ASYNC_TRANSACTIONS} <= set(enumeration)


def _mysuite_response(transaction="TIMBRAR", result="<Result>true</Result>", extra=""):
    return f"""<RequestTransactionResponse xmlns="{MYSUITE_NS}"><RequestTransactionResult>
      <Request><Requestor>0c320b03-d4f1-47bc-9fb4-77995f9bf33e</Requestor><RequestorActive>true</RequestorActive>
        <Transaction>{transaction}</Transaction><Country>MX</Country><Entity>JES900109Q90</Entity>
        <User>0c320b03-d4f1-47bc-9fb4-77995f9bf33e</User><UserName>MX.JES900109Q90.Juan</UserName>
        <Id>5f0b8f4e-3c1a-4d2b-9e7f-1a2b3c4d5e6f</Id><TimeStamp>2023-03-21T10:56:25.5256369-06:00</TimeStamp>
      </Request>
      <Response>{result}<TimeStamp>2023-03-21T10:56:26.0312345-06:00</TimeStamp><LastResult/><Code>1</Code>
        <Description/><Hint/><Data/><Processor>PAC-MOCK</Processor>
        <Identifier><Batch>A</Batch><Serial>1</Serial></Identifier></Response>
      <ResponseData><ResponseData1>UEsDBA==</ResponseData1><ResponseData2/><ResponseData3>OK</ResponseData3>{extra}
      </ResponseData></RequestTransactionResult></RequestTransactionResponse>"""


def test_mysuite_schema_accepts_asmx_response_and_rejects_bad_ones():
    assert_valid_body(MYSUITE_WSDL, _mysuite_response())
    assert_valid_body(MYSUITE_WSDL, _mysuite_response("ASYNC_CONVERT_VERIFY"))
    dataset = """<ResponseDataSet><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" id="NewDataSet"/>
      <diffgr:diffgram xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1"/></ResponseDataSet>"""
    assert_valid_body(MYSUITE_WSDL, _mysuite_response(extra=dataset))
    with pytest.raises(AssertionError, match="Transaction"):
        assert_valid_body(MYSUITE_WSDL, _mysuite_response("NOT_A_TRANSACTION"))
    with pytest.raises(AssertionError):
        assert_valid_body(MYSUITE_WSDL, _mysuite_response(result=""))  # Result is required


def test_mysuite_zeep_parses_a_response_envelope():
    client = _client(MYSUITE_WSDL)
    operation = (
        client.wsdl.services["FactWSFront"].ports["FactWSFrontSoap"].binding._operations["RequestTransaction"]
    )
    envelope = etree.fromstring(
        f'<soap:Envelope xmlns:soap="{SOAP11_ENV}"><soap:Body>{_mysuite_response()}</soap:Body></soap:Envelope>'
    )
    result = operation.output.deserialize(envelope)
    assert result.Request.Transaction == "TIMBRAR"
    assert result.Response.Result is True
    assert result.Response.Code == 1
    assert result.Response.Identifier.Serial == "1"
    assert result.ResponseData.ResponseData3 == "OK"


def test_every_wsdl_schema_builds():
    for path in (SF_WSDL, XPD_PRUEBAS_WSDL, XPD_PRODUCTIVO_WSDL, MYSUITE_WSDL):
        assert schema_for(path) is schema_for(path)  # cached


# --- Conformance with the providers' published WSDLs -----------------------------------------------
# Skipped when ../shared/reference is absent. The project's WSDLs describe the same messages, so every
# other test builds its clients from the project's.


def test_the_wsdls_conform_to_the_published_ones():
    _sf_conforms()
    _xpd_conforms()
    _mysuite_transactions_conform()


def _sf_conforms() -> None:
    ours_client, theirs_client = _client(SF_WSDL), _client(reference_wsdl("solucionfactible-Cancelacion.wsdl"))
    for soap_version in ("11", "12"):
        ours, theirs = _soap_operations(ours_client, soap_version), _soap_operations(theirs_client, soap_version)
        assert set(ours) == set(theirs) == SF_OPERATIONS
        for name in SF_OPERATIONS:
            assert ours[name].soapaction == theirs[name].soapaction
            assert _describe(ours[name].input.body) == _describe(theirs[name].input.body), name
            assert _describe(ours[name].output.body) == _describe(theirs[name].output.body), name
        assert _request_bodies(ours_client, soap_version) == _request_bodies(theirs_client, soap_version)
    # The plain-XML HTTP binding: the same operations at the same locations.
    assert _http_operations(SF_WSDL) == _http_operations(reference_wsdl("solucionfactible-Cancelacion.wsdl"))


def _xpd_conforms() -> None:
    for path, published in ((XPD_PRUEBAS_WSDL, "expidetufactura-CancelacionPruebas.wsdl"),
                            (XPD_PRODUCTIVO_WSDL, "expidetufactura-CancelacionProductivo.wsdl")):
        ours_client, theirs_client = _client(path), _client(reference_wsdl(published))
        ours, theirs = _soap_operations(ours_client, "11"), _soap_operations(theirs_client, "11")
        assert set(ours) == set(theirs) == {"cancelar"}
        assert ours["cancelar"].soapaction == theirs["cancelar"].soapaction
        assert _describe(ours["cancelar"].input.body) == _describe(theirs["cancelar"].input.body)
        assert _describe(ours["cancelar"].output.body) == _describe(theirs["cancelar"].output.body)
        assert _request_bodies(ours_client, "11") == _request_bodies(theirs_client, "11")
        # Same service, port and binding names: only the address differs.
        (ours_service,), (theirs_service,) = _ports(ours_client).items(), _ports(theirs_client).items()
        assert ours_service[0] == theirs_service[0]
        assert set(ours_service[1]) == set(theirs_service[1])


def _mysuite_transactions_conform() -> None:
    enumeration = schema_for(MYSUITE_WSDL).maps.types[f"{{{MYSUITE_NS}}}Transactions"].enumeration
    names = reference_file("mysuite-transactions.txt").read_text().split()
    assert len(names) == 202
    assert enumeration == [*names, *ASYNC_TRANSACTIONS]
