"""The requests the benchmark sends: real SOAP bodies for each provider operation.

Bodies carry the sandbox's public test credentials and the project's fake SAT fixtures (``csd_moral``,
password ``12345678a``), so the server runs its full rules: credentials, the CSD and its key, the
XMLDSig of signed Cancelacion documents, duplicates, state and the journal.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from mockserver.sat import load_certificate, load_private_key, sign_cancelacion
from mockserver.sat.pki import fixture
from mockserver.soap.envelope import SOAP11_NS, SOAP12_NS

from .load import UUID_MARK, Workload

MEXICO = ZoneInfo("America/Mexico_City")

SF_NS = "http://ws.cfdi.solucionfactible.com"
SF_PATH = "/ws/services/Cancelacion.CancelacionHttpsSoap11Endpoint/"
SF_PATH12 = "/ws/services/Cancelacion.CancelacionHttpsSoap12Endpoint/"
SF_USER = "testing@solucionfactible.com"
SF_PASSWORD = "timbrado.SF.16672"

XPD_NS = "http://service.xpd.mx/"
XPD_PATH = "/cancelacion/CancelacionPruebas"
XPD_USER = "pruebas"
XPD_TOKEN = "123456"

MYS_NS = "http://www.fact.com.mx/schema/ws"
MYS_PATH = "/mx.com.fact.wsfront/factwsfront.asmx"
MYS_REQUESTOR = "0c320b03-d4f1-47bc-9fb4-77995f9bf33e"
MYS_ENTITY = "JES900109Q90"
MYS_USER_NAME = "MX.JES900109Q90.Juan"

CSD = "csd_moral"

SOAP11_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


def _headers(action: str | None) -> dict[str, str]:
    return {**SOAP11_HEADERS, "SOAPAction": f'"{action}"' if action is not None else '""'}


def envelope11(payload: bytes, *, prefixes: str = "") -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<soapenv:Envelope xmlns:soapenv="' + SOAP11_NS.encode() + b'"' + prefixes.encode() + b">"
        b"<soapenv:Header/><soapenv:Body>" + payload + b"</soapenv:Body></soapenv:Envelope>"
    )


def envelope12(payload: bytes, *, prefixes: str = "") -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<soap:Envelope xmlns:soap="' + SOAP12_NS.encode() + b'"' + prefixes.encode() + b">"
        b"<soap:Body>" + payload + b"</soap:Body></soap:Envelope>"
    )


def _el(prefix: str, name: str, value: str | bytes | None) -> bytes:
    tag = f"{prefix}:{name}" if prefix else name
    if value is None:
        return f'<{tag} xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'.encode()
    data = value if isinstance(value, bytes) else value.replace("&", "&amp;").replace("<", "&lt;").encode()
    return f"<{tag}>".encode() + data + f"</{tag}>".encode()


class Fixtures:
    """The signing material of one fake CSD, loaded once."""

    def __init__(self, name: str = CSD) -> None:
        info = fixture(name)
        self.rfc = info.rfc or ""
        self.password = info.password
        self.cer = info.cer_bytes()
        self.key_der = info.key_bytes()
        self.certificate = load_certificate(self.cer)
        self.key = load_private_key(self.key_der, info.password)

    def cancelacion(self, uuids: Iterable[str], fecha: datetime | None = None) -> bytes:
        """A signed 2022-format Cancelacion, dated a minute ago (Mexico City time)."""
        when = fecha or (datetime.now(MEXICO) - timedelta(minutes=1)).replace(tzinfo=None, microsecond=0)
        return sign_cancelacion(self.certificate, self.key, self.rfc, list(uuids), when)


def new_uuid() -> str:
    return str(uuid4()).upper()


# Solución Factible -------------------------------------------------------------------------------


def sf_payload(operation: str, fields: list[tuple[str, str | bytes | None]]) -> bytes:
    inner = b"".join(_el("ws", name, value) for name, value in fields)
    return f"<ws:{operation}>".encode() + inner + f"</ws:{operation}>".encode()


def sf_workload(name: str, operation: str, fields: list[tuple[str, str | bytes | None]], **kw) -> Workload:
    body = envelope11(sf_payload(operation, fields), prefixes=f' xmlns:ws="{SF_NS}"')
    if UUID_MARK in body:
        return Workload(name, SF_PATH, _headers(f"urn:{operation}"), template=body, **kw)
    return Workload(name, SF_PATH, _headers(f"urn:{operation}"), bodies=[body], **kw)


def sf_cancelar_asincrono(fx: Fixtures) -> Workload:
    """cancelarAsincrono with the CSD and key in the request and a fresh UUID on every call."""
    return sf_workload(
        "sf.cancelarAsincrono",
        "cancelarAsincrono",
        [
            ("usuario", SF_USER),
            ("password", SF_PASSWORD),
            ("uuid", UUID_MARK + b"|02|"),
            ("rfcEmisor", fx.rfc),
            ("emailNotifica", "contabilidad@pac-mock.test"),
            ("csdCer", base64.b64encode(fx.cer)),
            ("csdKey", base64.b64encode(fx.key_der)),
            ("csdPassword", fx.password),
        ],
    )


def sf_workloads(fx: Fixtures, pool: int = 200) -> list[Workload]:
    signed = [base64.b64encode(fx.cancelacion([new_uuid()])) for _ in range(pool)]
    cred = [("usuario", SF_USER), ("password", SF_PASSWORD)]
    solicitud_async = [
        envelope11(
            sf_payload(
                "enviarSolicitudCancelacionAsincrono", [*cred, ("solicitud", s), ("emailNotifica", None)]
            ),
            prefixes=f' xmlns:ws="{SF_NS}"',
        )
        for s in signed
    ]
    solicitud = [
        envelope11(
            sf_payload("enviarSolicitudCancelacion", [*cred, ("solicitud", s)]),
            prefixes=f' xmlns:ws="{SF_NS}"',
        )
        for s in signed
    ]
    return [
        sf_cancelar_asincrono(fx),
        sf_workload(
            "sf.getStatusCancelacionAsincrona",
            "getStatusCancelacionAsincrona",
            [*cred, ("transactionId", UUID_MARK)],
        ),
        Workload(
            "sf.enviarSolicitudCancelacionAsincrono",
            SF_PATH,
            _headers("urn:enviarSolicitudCancelacionAsincrono"),
            bodies=solicitud_async,
        ),
        sf_workload(
            "sf.cancelar",
            "cancelar",
            [
                *cred,
                ("rfcEmisor", fx.rfc),
                ("uuids", UUID_MARK + b"|02|"),
                ("derCertCSD", base64.b64encode(fx.cer)),
                ("derKeyCSD", base64.b64encode(fx.key_der)),
                ("contrasenaCSD", fx.password),
            ],
        ),
        Workload(
            "sf.enviarSolicitudCancelacion",
            SF_PATH,
            _headers("urn:enviarSolicitudCancelacion"),
            bodies=solicitud,
        ),
        sf_workload("sf.cancelarSectorPrimario", "cancelarSectorPrimario", [*cred, ("uuid", UUID_MARK)]),
    ]


# Expide Tu Factura ----------------------------------------------------------------------------


def xpd_body(xml: bytes, user: str = XPD_USER, token: str = XPD_TOKEN) -> bytes:
    payload = (
        b"<ser:cancelar>"
        + _el("", "usuario", user)
        + _el("", "token", token)
        + _el("", "xmlBytes", base64.b64encode(xml))
        + b"</ser:cancelar>"
    )
    return envelope11(payload, prefixes=f' xmlns:ser="{XPD_NS}"')


def xpd_cancelar(fx: Fixtures, pool: int = 400, folios: int = 1) -> Workload:
    """cancelar with a pool of signed Cancelacion documents (new UUIDs), sent in turn."""
    bodies = [xpd_body(fx.cancelacion([new_uuid() for _ in range(folios)])) for _ in range(pool)]
    name = "xpd.cancelar" if folios == 1 else f"xpd.cancelar[{folios} folios]"
    return Workload(name, XPD_PATH, _headers(None), bodies=bodies)


# MYSuite ------------------------------------------------------------------------------------------


def mysuite_parts(transaction: str, data2: str = "", data3: str = "") -> tuple[bytes, bytes]:
    """The envelope before and after Data1, so a large Data1 is joined once without copies."""
    head = (
        f'<RequestTransaction xmlns="{MYS_NS}"><Requestor>{MYS_REQUESTOR}</Requestor>'
        f"<Transaction>{transaction}</Transaction><Country>MX</Country><Entity>{MYS_ENTITY}</Entity>"
        f"<User>{MYS_REQUESTOR}</User><UserName>{MYS_USER_NAME}</UserName><Data1>"
    ).encode()
    tail = f"</Data1><Data2>{data2}</Data2><Data3>{data3}</Data3></RequestTransaction>".encode()
    before = envelope11(b"\0").split(b"\0")[0]
    after = envelope11(b"\0").split(b"\0")[1]
    return before + head, tail + after


MYS_HEADERS = _headers("http://www.fact.com.mx/schema/ws/RequestTransaction")


def mysuite_body(transaction: str, data1: bytes, data2: str = "") -> bytes:
    head, tail = mysuite_parts(transaction, data2)
    return b"".join((head, data1, tail))


def mysuite_workloads() -> list[Workload]:
    unknown = str(UUID(int=0x0B0B))
    return [
        Workload(
            "mysuite.ASYNC_CONVERT_VERIFY",
            MYS_PATH,
            MYS_HEADERS,
            bodies=[mysuite_body("ASYNC_CONVERT_VERIFY", unknown.encode())],
        ),
        Workload(
            "mysuite.ASYNC_RETRIEVE_DOCUMENT",
            MYS_PATH,
            MYS_HEADERS,
            bodies=[mysuite_body("ASYNC_RETRIEVE_DOCUMENT", unknown.encode())],
        ),
    ]
