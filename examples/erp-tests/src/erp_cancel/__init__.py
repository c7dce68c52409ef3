"""The ERP's CFDI client: cancel through Solución Factible or Expide Tu Factura, stamp large invoices
through MYSuite's asynchronous service. Each provider's base URL comes from configuration."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

import requests
import zeep
import zeep.exceptions

SF_USER, SF_PASSWORD = "testing@solucionfactible.com", "timbrado.SF.16672"
MYSUITE = {"Requestor": "0c320b03-d4f1-47bc-9fb4-77995f9bf33e", "User": "0c320b03-d4f1-47bc-9fb4-77995f9bf33e",
           "Country": "MX", "Entity": "JES900109Q90", "UserName": "MX.JES900109Q90.Juan"}


class ProviderDown(RuntimeError):
    """The provider did not answer (HTTP error or no connection) after every retry."""


@dataclass
class Cfdi:
    request_id: str
    status: int  # 1 converting, 2 stamped, 3 failed


class Erp:
    def __init__(self, urls: dict[str, str], *, xpd_user: str = "erp-pruebas", xpd_token: str = "s3creto",
                 retries: int = 2) -> None:
        self.urls = urls
        self.xpd_user, self.xpd_token = xpd_user, xpd_token
        self.retries = retries

    def _client(self, name: str) -> zeep.Client:
        return zeep.Client(self.urls[name] + "?wsdl")

    def _retrying(self, call):
        for attempt in range(self.retries + 1):
            try:
                return call()
            except (zeep.exceptions.TransportError, requests.ConnectionError) as exc:
                if attempt == self.retries:
                    raise ProviderDown(str(exc)) from exc
                time.sleep(0.05)
        raise AssertionError("unreachable")

    # Solución Factible: asynchronous; the provider keeps the CSD (stored_csds).
    def cancel_sf(self, uuid: str, rfc: str = "MOC900101AB1") -> int:
        service = self._client("solucionfactible").bind("Cancelacion", "CancelacionHttpsSoap11Endpoint")
        answer = self._retrying(lambda: service.cancelarAsincrono(SF_USER, SF_PASSWORD, f"{uuid}|02|", rfc,
                                                                  None, None, None, None))
        return int(answer.status)

    def sf_status(self, uuid: str) -> int:
        service = self._client("solucionfactible").bind("Cancelacion", "CancelacionHttpsSoap11Endpoint")
        return int(service.getStatusCancelacionAsincrona(SF_USER, SF_PASSWORD, uuid).status)

    # Expide Tu Factura: the ERP sends a Cancelacion it signed with its CSD.
    def cancel_xpd(self, signed_cancelacion: bytes) -> tuple[str, list[str]]:
        answer = self._client("expidetufactura").service.cancelar(self.xpd_user, self.xpd_token, signed_cancelacion)
        return answer.codEstatus, list(answer.estatusUUIDs or [])

    # MYSuite: large invoices go to the asynchronous conversion.
    def stamp_mysuite(self, native_document: bytes, internal_id: str) -> str:
        answer = self._client("mysuite").service.RequestTransaction(
            Transaction="ASYNC_CONVERT_NATIVE_XML", Data1=base64.b64encode(native_document).decode(),
            Data2=internal_id, Data3="", **MYSUITE)
        if not answer.Response.Result:
            raise ValueError(f"MYSuite refused the document: {answer.Response.Code} {answer.Response.Description}")
        return answer.ResponseData.ResponseData1

    def mysuite_status(self, request_id: str) -> Cfdi:
        answer = self._client("mysuite").service.RequestTransaction(
            Transaction="ASYNC_CONVERT_VERIFY", Data1=request_id, Data2="", Data3="", **MYSUITE)
        text = base64.b64decode(answer.ResponseData.ResponseData1).decode()
        return Cfdi(request_id, int(text.split("<Status>")[1].split("<")[0]))
