"""The HTTP side of a SOAP call: body in, dispatch, scenario faults, envelope out, journal entry."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterator

from flask import Request, Response
from flask import request as current_request
from lxml import etree

from ..journal import BODY_LIMIT, Entry, clip
from ..request_threads import away
from ..runtime import Context, Runtime
from . import conformance, mtom
from .clipping import clip_fields
from .envelope import (
    POX,
    SOAP11,
    SoapVersion,
    fault_bytes,
    parse_request,
    response_bytes,
    soap_action,
    version_for_content_type,
    version_of_message,
)
from .faults import SoapFault
from .service import Call, SoapService

log = logging.getLogger("pac_mock.soap")

# A scenario delay never holds a worker longer than this.
MAX_DELAY_SECONDS = 300


class _Dropped(Exception):
    """Raised inside a response body to make the server close the connection mid-response."""


def handle(runtime: Runtime, service: SoapService, request: Request, session: str, base_url: str) -> Response:
    started = time.perf_counter()
    ctx = runtime.context(session)
    entry = Entry(session=session, at=ctx.now(), method="POST", path=request.path, provider=service.provider)
    content_type = request.content_type
    version = version_for_content_type(content_type) or SOAP11
    call: Call | None = None
    body = b""
    try:
        body = request.get_data(cache=False)
        entry.summary["request_bytes"] = len(body)
        action = soap_action(request.headers.get("SOAPAction"), content_type)
        version = _answer_version(service, content_type, body)
        attachments: dict[str, bytes] | None = None
        if mtom.is_multipart(content_type):
            if not service.mtom:
                # ASMX reads text/xml (and application/soap+xml) only: anything else is a server fault.
                raise SoapFault(f"Content is not XML: {mtom.MULTIPART}; this service reads no MTOM/XOP "
                                "or attachments", code="Receiver")
            envelope_bytes, content_type, attachments = mtom.unpack(body, content_type or "")
            action = action or soap_action(None, content_type)
        else:
            envelope_bytes = body
        soap_request = parse_request(
            envelope_bytes,
            content_type,
            action=action,
            huge=service.huge,
            accepted=service.versions,
            plain_xml=service.plain_xml,
        )
        del envelope_bytes
        version = soap_request.version
        if attachments is not None:
            entry.summary["mtom"] = True
            entry.summary["xop_parts"] = mtom.resolve_includes(soap_request.envelope, attachments)
            del attachments
        # Keep only what the journal may need of the body: a 40 MB document must not stay in memory
        # three times (bytes, parsed text, decoded data) while the service works.
        if len(body) > BODY_LIMIT:
            body = body[: BODY_LIMIT + 1]
        entry.soap_version = version.name
        operation = service.operation_for(soap_request)
        entry.operation = operation.name
        call = Call(ctx, service, operation, soap_request, base_url=base_url)
        call.data = operation.reader(soap_request.payload) if operation.reader else soap_request.payload
        fields = operation.fields(call.data) if operation.fields else {}
        # Rules may match on the environment, which the path (or the provider's setting) decides.
        fields.setdefault("environment", service.environment or ctx.scenarios.environment(service.provider))
        call.outcome = ctx.outcome(service.provider, operation.name, fields)
        # A rule that may misbehave on the transport applies now; any other waits for the service.
        fault = call.outcome.fault if call.outcome is not None and call.outcome.rule.faults else None
        if fault is not None:
            injected = _injected(fault, version, call)
            if injected is not None:
                return _finish(ctx, entry, call, body, request.content_type, injected, started)
        conformance.inspect(call, request)
        refused = conformance.refusal(call)
        payload = refused if refused is not None else operation.handler(call)
        response = Response(response_bytes(version, payload), 200, content_type=version.content_type)
    except SoapFault as fault:
        response = _fault_response(service, version, fault)
        entry.summary["fault"] = fault.message
    except Exception as exc:  # a bug must still answer like a SOAP server, not with a stack trace
        log.exception("internal error in %s", service.name)
        fault = SoapFault(f"Internal error in the sandbox ({type(exc).__name__})", code="Receiver")
        response = _fault_response(service, version, fault)
        entry.summary["fault"] = fault.message
    return _finish(ctx, entry, call, body, request.content_type, response, started)


def _answer_version(service: SoapService, content_type: str | None, body: bytes) -> SoapVersion:
    """The version a fault goes back in before the envelope is read (the request's, always)."""
    # Unreadable text/xml gets a SOAP 1.1 fault; only an application/xml request gets a plain-XML one.
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if service.plain_xml and media == "application/xml" and b"Envelope" not in body[:4096]:
        return POX
    return version_of_message(content_type, body)


def _fault_response(service: SoapService, version: SoapVersion, fault: SoapFault) -> Response:
    status = service.fault_status(version, fault.code)
    return Response(fault_bytes(version, fault), status, content_type=version.content_type)


def _finish(
    ctx: Context, entry: Entry, call: Call | None, body: bytes, content_type: str | None, response: Response,
    started: float,
) -> Response:
    """Describe the call in ``entry`` and hand it to the runtime, which journals it."""
    if call is not None:
        entry.summary = {**call.summary, **entry.summary}
        if call.findings:
            entry.summary["findings"] = [f.as_dict() for f in call.findings]
    entry.status = response.status_code
    entry.duration_ms = (time.perf_counter() - started) * 1000
    entry.request = _journal_request(call, body, entry, content_type)
    if not response.is_streamed:
        entry.response = clip(response.get_data())
    ctx.record(entry)
    return response


def _journal_request(call: Call | None, body: bytes, entry: Entry, content_type: str | None) -> str | None:
    """What the journal keeps of the request; Journal.record blanks the secrets in it."""
    if call is None:
        return _unparsed_request(body, entry.summary.get("request_bytes"), content_type)
    # The parsed envelope, each field clipped (MTOM parts already put in): what the client sent,
    # in a bounded size even for a 40 MB Data1.
    clip_fields(call.request.envelope)
    return clip(etree.tostring(call.request.envelope, encoding="unicode"))


def _unparsed_request(body: bytes, size: int | None, content_type: str | None) -> str | None:
    """What the journal keeps of a request the SOAP layer could not read: XML text only.

    Redaction finds secrets by their elements, so a body that is not XML (a form, JSON) is not kept;
    of an MTOM package only the envelope is, its parts (passwords, keys) never.
    """
    size = len(body) if size is None else size
    if mtom.is_multipart(content_type):
        try:
            body = mtom.unpack(body, content_type or "")[0]
        except (SoapFault, ValueError, LookupError):
            return f"[{size} bytes of multipart/related that could not be read: not kept]"
    text = clip(body, size)
    if text is not None and text and not text.lstrip().startswith("<"):
        return f"[{size} bytes that are not XML: not kept, so that no secret in them is]"
    return text


_FAULT_CODES = {"client": "Sender", "server": "Receiver", "sender": "Sender", "receiver": "Receiver"}


def _injected(fault, version, call: Call) -> Response | None:
    """Turn a scenario fault into what the client sees; None lets the call go on (a plain delay)."""
    kind = fault.kind
    params = fault.params
    call.summary["injected"] = kind
    if kind == "delay":
        with away():
            time.sleep(min(fault.seconds, MAX_DELAY_SECONDS))
        return None
    if kind == "http_status":
        status = int(fault.status or 503)
        text = params.get("body") or f"{status} injected by a pac-mock scenario"
        return Response(text, status, content_type=params.get("content_type") or "text/plain; charset=utf-8")
    if kind == "soap_fault":
        code = fault.faultcode.split(":")[-1]
        raise SoapFault(fault.faultstring, code=_FAULT_CODES.get(code.lower(), code), detail=params.get("detail"),
                        detail_code=code)
    if kind == "malformed":
        data = params.get("body")
        if data is None:
            data = f'<?xml version="1.0"?><s:Envelope xmlns:s="{version.ns}"><s:Body><broken></s:Body>'
        return Response(str(data).encode(), 200, content_type=version.content_type)
    if kind in ("truncate", "drop"):
        full = response_bytes(version, call.operation.handler(call)) if kind == "truncate" else b""
        keep = full[: fault.keep_bytes if fault.keep_bytes is not None else len(full) // 2]

        # Read the socket now: the body generator runs after the request context is gone.
        sock = current_request.environ.get("werkzeug.socket") if kind == "drop" else None

        def body() -> Iterator[bytes]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            if keep:
                yield keep
            raise _Dropped(f"connection {kind} injected by a scenario")

        response = Response(body(), 200, content_type=version.content_type)
        response.headers["Content-Length"] = str(len(full) or 1)
        return response
    raise SoapFault(f"Unknown scenario fault kind {kind!r}", code="Receiver")
