"""The SAT ``Cancelacion`` request document: parsing, checks and building (no signature logic here).

Two formats are accepted:

- ``legacy`` (before 2022): ``<Folios><UUID>…</UUID><UUID>…</UUID></Folios>``, no motive;
- ``2022``: ``<Folios><Folio UUID=".." Motivo=".." [FolioSustitucion=".."]/></Folios>``, usually one
  ``Folios`` per ``Folio`` (satcfdi, phpcfdi) but several ``Folio`` in one ``Folios`` are accepted too.

UUIDs are matched case-insensitively (the SAT schema allows ``[a-fA-F0-9]``) and returned upper-case,
so callers can use them as keys. Duplicated UUIDs are kept as sent; deciding about them is the
provider's business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from lxml import etree

from ._xml import safe_fromstring
from .errors import (
    BadFecha,
    BadMotivo,
    BadRfcEmisor,
    BadStructure,
    BadUuid,
    FolioSustitucionForbidden,
    FolioSustitucionRequired,
    NoFolios,
    SatError,
    TooManyFolios,
    WrongNamespace,
    WrongRoot,
)

NS = "http://cancelacfd.sat.gob.mx"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_FOLIOS = 500
MOTIVOS: dict[str, str] = {
    "01": "Comprobante emitido con errores con relación",
    "02": "Comprobante emitido con errores sin relación",
    "03": "No se llevó a cabo la operación",
    "04": "Operación nominativa relacionada en una factura global",
}
MEXICO_TZ = ZoneInfo("America/Mexico_City")

Format = Literal["legacy", "2022"]

# The one spelling of a UUID (8-4-4-4-12 hexadecimal digits, either case); anchor or bound it as needed.
UUID_TEXT = r"[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"
UUID_RE = re.compile(rf"^{UUID_TEXT}$")
FECHA_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
RFC_RE = re.compile(r"^[A-ZÑ&]{3,4}[0-9]{2}(0[1-9]|1[012])(0[1-9]|[12][0-9]|3[01])[A-Z0-9]{2}[0-9A]$")


@dataclass(frozen=True)
class Folio:
    uuid: str
    motivo: str | None = None
    folio_sustitucion: str | None = None


@dataclass(frozen=True)
class Cancelacion:
    rfc_emisor: str
    fecha_text: str
    fecha: datetime  # naive, as written (the emisor's local time, Mexico in practice)
    folios: tuple[Folio, ...]
    format: Format
    # Every UUID and FolioSustitucion exactly as written (the folios hold them upper-cased).
    written_uuids: tuple[str, ...] = ()

    @property
    def uuids(self) -> tuple[str, ...]:
        return tuple(f.uuid for f in self.folios)

    def fecha_aware(self, tz: ZoneInfo = MEXICO_TZ) -> datetime:
        """Fecha read as wall-clock time in ``tz`` (Mexico City by default)."""
        return self.fecha.replace(tzinfo=tz)


def is_uuid(text: str, *, upper_case: bool = False) -> bool:
    """``text`` is a UUID (nothing around it); with ``upper_case`` its letters must be upper case."""
    return UUID_RE.fullmatch(text) is not None and not (upper_case and text != text.upper())


def parse_cancelacion(xml: bytes) -> Cancelacion:
    """Parse and check an (unverified) Cancelacion. A Signature child is allowed and ignored."""
    return cancelacion_from_element(safe_fromstring(xml))


@dataclass(frozen=True)
class Unverified:
    """A Cancelacion document parsed and read once, its seal not yet checked: what rule matching
    reads, and what :func:`mockserver.sat.verify_seal` takes so as not to parse and read it again
    (reading 500 folios is 4.5 ms). ``error`` says why ``root`` or ``cancelacion`` is missing."""

    root: etree._Element | None
    cancelacion: Cancelacion | None
    error: SatError | None = None


def read_unverified(xml: bytes) -> Unverified:
    try:
        root = safe_fromstring(xml)
    except SatError as error:
        return Unverified(None, None, error)
    try:
        return Unverified(root, cancelacion_from_element(root))
    except SatError as error:
        return Unverified(root, None, error)


def cancelacion_from_element(root: etree._Element) -> Cancelacion:
    """Check and read a parsed ``Cancelacion`` element; raises a :class:`CancelacionError` subclass."""
    if not isinstance(root.tag, str):
        raise WrongRoot("el elemento raíz debe ser Cancelacion")
    qname = etree.QName(root)
    if qname.localname != "Cancelacion":
        raise WrongRoot(f"el elemento raíz debe ser Cancelacion, no {qname.localname}")
    if qname.namespace != NS:
        raise WrongNamespace(f"Cancelacion debe estar en el espacio de nombres {NS}")

    rfc = (root.get("RfcEmisor") or "").strip()
    if not rfc:
        raise BadRfcEmisor("falta el atributo RfcEmisor")
    if not RFC_RE.match(rfc.upper()):
        raise BadRfcEmisor("RfcEmisor no tiene el formato de un RFC")
    fecha_text = root.get("Fecha")
    fecha = parse_fecha(fecha_text)

    uuids: list[etree._Element] = []
    folio_elements: list[etree._Element] = []
    for child in root:
        if not isinstance(child.tag, str):
            continue  # comments and PIs are the signature layer's concern
        if child.tag == f"{{{DS_NS}}}Signature":
            continue
        if child.tag != f"{{{NS}}}Folios":
            raise BadStructure(f"elemento inesperado {etree.QName(child).localname} en Cancelacion")
        for item in child:
            if not isinstance(item.tag, str):
                continue
            if item.tag == f"{{{NS}}}UUID":
                uuids.append(item)
            elif item.tag == f"{{{NS}}}Folio":
                folio_elements.append(item)
            else:
                raise BadStructure(f"elemento inesperado {etree.QName(item).localname} en Folios")
    if uuids and folio_elements:
        raise BadStructure("no se pueden mezclar UUID (formato anterior) y Folio (formato 2022)")
    count = len(uuids) + len(folio_elements)
    if count == 0:
        raise NoFolios("la solicitud no contiene folios")
    if count > MAX_FOLIOS:
        raise TooManyFolios(f"la solicitud contiene {count} folios; el máximo es {MAX_FOLIOS}")

    if uuids:
        folios = tuple(Folio(_uuid(u.text, "UUID")) for u in uuids)
        written = tuple((u.text or "").strip() for u in uuids)
        return Cancelacion(rfc, fecha_text or "", fecha, folios, "legacy", written)
    written = tuple(
        (f.get(a) or "").strip() for f in folio_elements for a in ("UUID", "FolioSustitucion") if f.get(a) is not None
    )
    return Cancelacion(rfc, fecha_text or "", fecha, tuple(_folio(f) for f in folio_elements), "2022", written)


def parse_fecha(text: str | None) -> datetime:
    if not text:
        raise BadFecha("falta el atributo Fecha")
    if not FECHA_RE.match(text):
        raise BadFecha("Fecha debe tener el formato aaaa-MM-ddThh:mm:ss")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise BadFecha("Fecha no es una fecha válida") from None


def validate_folio(folio: Folio) -> Folio:
    """Check one 2022 folio (motive and substitution rules); returns it normalised."""
    uuid = _uuid(folio.uuid, "UUID")
    motivo = folio.motivo
    if motivo is None or motivo == "":
        raise BadMotivo(f"falta Motivo para el folio {uuid}")
    if motivo not in MOTIVOS:
        raise BadMotivo(f"Motivo {motivo!r} no está en el catálogo (01, 02, 03, 04)")
    sustitucion = folio.folio_sustitucion
    if motivo == "01":
        if not sustitucion:
            raise FolioSustitucionRequired(f"FolioSustitucion es requerido con Motivo 01 ({uuid})")
        sustitucion = _uuid(sustitucion, "FolioSustitucion")
    elif sustitucion is not None:
        raise FolioSustitucionForbidden(f"FolioSustitucion solo se permite con Motivo 01 ({uuid})")
    return Folio(uuid, motivo, sustitucion)


def _folio(element: etree._Element) -> Folio:
    unknown = set(element.attrib) - {"UUID", "Motivo", "FolioSustitucion"}
    unknown = {a for a in unknown if not a.startswith("{")}
    if unknown:
        raise BadStructure(f"atributos inesperados en Folio: {', '.join(sorted(unknown))}")
    return validate_folio(
        Folio(element.get("UUID") or "", element.get("Motivo"), element.get("FolioSustitucion"))
    )


def _uuid(text: str | None, what: str) -> str:
    value = (text or "").strip()
    if not UUID_RE.match(value):
        raise BadUuid(f"{what} {value[:40]!r} no tiene el formato de un UUID")
    return value.upper()


_CHAR_REF_BREAK = re.compile(rb"&#(?:0*1[03]|x0*[ad]);", re.I)


def has_line_breaks(xml: bytes) -> bool:
    """A line break (CR or LF, also as a character reference) inside the root element.

    Before the root (after the XML declaration) and after it, a line break is not part of the
    document: every serializer may put one there, and neither C14N nor the signature sees it.
    """
    body = xml.strip()
    if body.startswith(b"<?xml"):
        body = body[body.find(b"?>") + 2 :].strip()
    return b"\n" in body or b"\r" in body or _CHAR_REF_BREAK.search(body) is not None


def format_fecha(fecha: datetime) -> str:
    return fecha.strftime("%Y-%m-%dT%H:%M:%S")


def build_cancelacion(
    rfc_emisor: str, folios: Sequence[Folio] | Iterable[Folio], fecha: datetime, fmt: Format = "2022"
) -> etree._Element:
    """An unsigned Cancelacion element laid out like SAT clients write it (xsd/xsi declared on the root)."""
    folios = list(folios)
    root = etree.Element(f"{{{NS}}}Cancelacion", nsmap={None: NS, "xsd": XSD_NS, "xsi": XSI_NS})
    root.set("RfcEmisor", rfc_emisor)
    root.set("Fecha", format_fecha(fecha))
    if fmt == "legacy":
        wrapper = etree.SubElement(root, f"{{{NS}}}Folios")
        for f in folios:
            etree.SubElement(wrapper, f"{{{NS}}}UUID").text = f.uuid
    elif fmt == "2022":
        for f in folios:
            element = etree.SubElement(etree.SubElement(root, f"{{{NS}}}Folios"), f"{{{NS}}}Folio")
            element.set("UUID", f.uuid)
            element.set("Motivo", f.motivo or "02")
            if f.folio_sustitucion:
                element.set("FolioSustitucion", f.folio_sustitucion)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return root
