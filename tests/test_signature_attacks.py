"""Signature attacks on the SAT Cancelacion, end to end through Expide Tu Factura's ``cancelar``.

Each tampered document is rejected with the provider's code, and nothing is cancelled.
"""

from __future__ import annotations

import base64
import copy
import uuid as uuid_module
from datetime import datetime, timedelta

import pytest
import requests
from lxml import etree

from mockserver.sat import sign_cancelacion
from mockserver.sat.pki import fixture

NOW = datetime(2026, 6, 1, 12, 0, 0)
DS = "http://www.w3.org/2000/09/xmldsig#"
SAT = "http://cancelacfd.sat.gob.mx"
PATH = "/cancelacion/CancelacionPruebas"


def new_uuid() -> str:
    return str(uuid_module.uuid4()).upper()


def signed(folios: list[str] | None = None, name: str = "csd_moral") -> bytes:
    info = fixture(name)
    return sign_cancelacion(info.certificate(), info.private_key(), info.certificate().rfc,
                            folios or [new_uuid()], NOW - timedelta(minutes=5), "2022")


def tree(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def wrap_extra_signed_copy() -> bytes:
    """A second Folios with another UUID next to the signed one (the signed part stays intact)."""
    root = tree(signed())
    extra = copy.deepcopy(root.find(f"{{{SAT}}}Folios"))
    extra[0].set("UUID", new_uuid())
    root.insert(0, extra)
    return etree.tostring(root)


def wrap_original_inside_signature() -> bytes:
    """The classic wrapping: the signed document hidden in the Signature, a forged one outside."""
    root = tree(signed())
    signature = root.find(f"{{{DS}}}Signature")
    hidden = copy.deepcopy(root)
    hidden.remove(hidden.find(f"{{{DS}}}Signature"))
    obj = etree.SubElement(signature, f"{{{DS}}}Object")
    obj.append(hidden)
    root.find(f"{{{SAT}}}Folios")[0].set("UUID", new_uuid())
    return etree.tostring(root)


def signature_not_under_root() -> bytes:
    root = tree(signed())
    signature = root.find(f"{{{DS}}}Signature")
    root.remove(signature)
    root.find(f"{{{SAT}}}Folios").append(signature)
    return etree.tostring(root)


def two_references() -> bytes:
    root = tree(signed())
    signed_info = root.find(f"{{{DS}}}Signature/{{{DS}}}SignedInfo")
    signed_info.append(copy.deepcopy(signed_info.find(f"{{{DS}}}Reference")))
    return etree.tostring(root)


def reference_uri_not_empty() -> bytes:
    root = tree(signed())
    root.find(f"{{{DS}}}Signature/{{{DS}}}SignedInfo/{{{DS}}}Reference").set("URI", "#Folios")
    return etree.tostring(root)


def certificate_swapped() -> bytes:
    root = tree(signed())
    other = base64.b64encode(fixture("csd_fisica").cer_bytes()).decode()
    root.find(f".//{{{DS}}}X509Certificate").text = other
    return etree.tostring(root)


def issuer_serial_edited() -> bytes:
    root = tree(signed())
    root.find(f".//{{{DS}}}X509SerialNumber").text = "1"
    return etree.tostring(root)


def comment_after_signing() -> bytes:
    root = tree(signed())
    root.find(f"{{{SAT}}}Folios").append(etree.Comment(" a note added later "))
    return etree.tostring(root)


def whitespace_after_signing() -> bytes:
    root = tree(signed())
    # blanks only: a line break is refused before the seal is looked at (the guide: no line breaks)
    root.find(f"{{{SAT}}}Folios").tail = "    "
    return etree.tostring(root)


def attribute_edited_after_signing() -> bytes:
    root = tree(signed())
    root.set("Fecha", (NOW - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S"))
    return etree.tostring(root)


ATTACKS = {
    "extra-folios-copy": (wrap_extra_signed_copy, "302"),
    "original-inside-signature": (wrap_original_inside_signature, "302"),
    "signature-not-under-root": (signature_not_under_root, "302"),
    "two-references": (two_references, "302"),
    "reference-uri-not-empty": (reference_uri_not_empty, "302"),
    "certificate-swapped": (certificate_swapped, "303"),
    "issuer-serial-edited": (issuer_serial_edited, "303"),
    "comment-after-signing": (comment_after_signing, "302"),
    "whitespace-after-signing": (whitespace_after_signing, "302"),
    "fecha-edited-after-signing": (attribute_edited_after_signing, "302"),
}


def cancelar(sandbox, xml: bytes) -> etree._Element:
    body = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        '<x:cancelar xmlns:x="http://service.xpd.mx/"><usuario>pruebas</usuario><token>123456</token>'
        f"<xmlBytes>{base64.b64encode(xml).decode()}</xmlBytes></x:cancelar></s:Body></s:Envelope>"
    )
    response = sandbox.post_soap(PATH, body)
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content).find(".//return")


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_signature_attack_is_rejected(sandbox, attack):
    make, code = ATTACKS[attack]
    sandbox.admin("POST", "clock", json={"freeze": NOW.isoformat()})
    answer = cancelar(sandbox, make())
    assert answer.findtext("codEstatus") == code, answer.findtext("codMensaje")
    assert answer.findall("uuids") == [] and answer.findtext("acuse") is None
    assert requests.get(sandbox.url + "/__admin/registry", timeout=10).json()["uuids"] == []


def test_the_untampered_document_is_accepted(sandbox):
    sandbox.admin("POST", "clock", json={"freeze": NOW.isoformat()})
    assert cancelar(sandbox, signed()).findtext("codEstatus") == "200"
