"""Command-line commands of the SAT core: ``fixtures`` and ``sign``.

``register(subparsers)`` adds both to an argparse sub-parser set; each sets ``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from .cancelacion import MEXICO_TZ, Folio
from .certificates import load_certificate
from .errors import SatError
from .keys import load_private_key
from .pki import export, generate_pki
from .signature import sign_cancelacion


def register(subparsers: argparse._SubParsersAction) -> None:
    fixtures = subparsers.add_parser(
        "fixtures",
        help="export the test certificates and keys (fake SAT PKI)",
        description="Export the packaged fake SAT PKI (certificates, keys, manifest.json), "
        "or generate a brand-new one with --new.",
    )
    fixtures.add_argument(
        "--out", default="fixtures", type=Path, help="target directory (default: ./fixtures)"
    )
    fixtures.add_argument(
        "--new", action="store_true", help="generate a fresh PKI instead of the packaged one"
    )
    fixtures.set_defaults(func=run_fixtures)

    sign = subparsers.add_parser(
        "sign",
        help="build and sign a SAT Cancelacion with a CSD",
        description="Print a signed SAT Cancelacion (as a client would send it) built from the given folios.",
    )
    sign.add_argument("--cer", required=True, type=Path, help="certificate (.cer DER or PEM)")
    sign.add_argument(
        "--key", required=True, type=Path, help="private key (.key encrypted PKCS#8 DER, or PEM)"
    )
    sign.add_argument("--password", required=True, help="password of the private key")
    sign.add_argument("--rfc", help="RfcEmisor (default: the certificate's RFC)")
    sign.add_argument(
        "--uuid",
        action="append",
        required=True,
        metavar="UUID[:MOTIVO[:SUSTITUTO]]",
        help="folio to cancel; repeat for several (MOTIVO defaults to 02)",
    )
    sign.add_argument("--format", choices=("2022", "legacy"), default="2022", help="document format")
    sign.add_argument("--fecha", help="Fecha, ISO 8601 (default: now, Mexico City time)")
    sign.add_argument(
        "--sha256",
        action="store_true",
        help="sign with RSA-SHA256 instead of RSA-SHA1 (Expide Tu Factura refuses it unless strict.sha1_only is false)",
    )
    sign.add_argument("--out", type=Path, help="write to FILE instead of standard output")
    sign.set_defaults(func=run_sign)


def run_fixtures(args: argparse.Namespace) -> int:
    out: Path = args.out
    try:
        written = generate_pki(out) if args.new else export(out)
    except OSError as exc:
        print(f"error: cannot write to {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    what = "generated a new fake SAT PKI" if args.new else "exported the packaged fake SAT PKI"
    print(f"{what} in {out} ({len(written)} files)", file=sys.stderr)
    return 0


def parse_folio_arg(text: str) -> Folio:
    """``UUID[:MOTIVO[:SUSTITUTO]]``."""
    uuid, _, rest = text.strip().partition(":")
    motivo, _, sustituto = rest.partition(":")
    return Folio(uuid, motivo or "02", sustituto or None)


def parse_fecha_arg(text: str | None) -> datetime:
    if not text:
        return datetime.now(MEXICO_TZ).replace(tzinfo=None, microsecond=0)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SatError(f"--fecha {text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is not None:
        value = value.astimezone(MEXICO_TZ).replace(tzinfo=None)
    return value.replace(microsecond=0)


def run_sign(args: argparse.Namespace) -> int:
    try:
        cert = load_certificate(_read(args.cer))
        key = load_private_key(_read(args.key), args.password)
        folios = [parse_folio_arg(u) for u in args.uuid]
        rfc = args.rfc or cert.rfc
        if not rfc:
            raise SatError("the certificate has no RFC; pass --rfc")
        xml = sign_cancelacion(
            cert,
            key,
            rfc,
            folios,
            parse_fecha_arg(args.fecha),
            args.format,
            algorithm="sha256" if args.sha256 else "sha1",
        )
    except (SatError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        try:
            args.out.write_bytes(xml)
        except OSError as exc:
            print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(
            f"wrote a signed Cancelacion ({args.format}, {len(folios)} folio(s), RFC {rfc}, "
            f"certificate {cert.certificate_number}) to {args.out}",
            file=sys.stderr,
        )
    else:
        sys.stdout.buffer.write(xml + b"\n")
        sys.stdout.flush()
        print(
            f"signed Cancelacion ({args.format}, {len(folios)} folio(s), RFC {rfc}, "
            f"certificate {cert.certificate_number}) written to standard output",
            file=sys.stderr,
        )
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SatError(f"cannot read {path}: {exc.strerror or exc}") from None
