"""A self-made test PKI shaped like SAT's, and the canonical set shipped with the package.

Everything here is fake: a root named like SAT's test CA ("AC UAT FAKE", O = SERVICIO DE ADMINISTRACION
TRIBUTARIA) and leaves laid out like real CSD/FIEL certificates (RFC in x500UniqueIdentifier, the
*no. de certificado* as the ASCII serial, OU only on CSDs). The server trusts this root by default and
signs acuses with the ``sat_acuse`` leaf.

Files per fixture: ``<name>.cer`` (DER) and ``<name>.key`` (PKCS#8 DER encrypted with :data:`PASSWORD`);
``manifest.json`` describes them.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from ..certificates import Certificate, load_certificate, serial_of_certificate_number
from ..keys import encrypt_private_key, load_private_key
from ..names import OID_NAME

PASSWORD = "12345678a"
"""The password of every ``.key`` in the fake PKI (the same one SAT uses for its public test keys)."""

MANIFEST = "manifest.json"
ROOT = "ac_uat"
_NETSCAPE_CERT_TYPE = ObjectIdentifier("2.16.840.1.113730.1.1")
_PRINTABLE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")


@dataclass(frozen=True)
class FixtureInfo:
    name: str
    cer_path: Path
    key_path: Path
    password: str
    rfc: str | None
    kind: str
    certificate_number: str
    legal_name: str | None
    not_before: datetime
    not_after: datetime
    description: str

    def cer_bytes(self) -> bytes:
        return self.cer_path.read_bytes()

    def key_bytes(self) -> bytes:
        return self.key_path.read_bytes()

    def certificate(self) -> Certificate:
        return load_certificate(self.cer_bytes())

    def private_key(self) -> rsa.RSAPrivateKey:
        return load_private_key(self.key_bytes(), self.password)


@dataclass(frozen=True)
class _Spec:
    name: str
    description: str
    kind: str  # "CA", "CSD", "FIEL", "ACUSE"
    rfc: str
    legal_name: str
    rfc_rep: str | None = None
    curp: str = ""
    branch: str | None = None
    email: str | None = None
    issuer: str = ROOT
    not_before: datetime = datetime(2020, 1, 1, tzinfo=UTC)
    not_after: datetime = datetime(2035, 12, 31, 23, 59, 59, tzinfo=UTC)


_SPECS: tuple[_Spec, ...] = (
    _Spec(
        "ac_uat",
        "Fake SAT test root (AC UAT FAKE); trusted by default.",
        "CA",
        "",
        "AC UAT FAKE",
        not_before=datetime(2019, 1, 1, tzinfo=UTC),
        not_after=datetime(2045, 12, 31, tzinfo=UTC),
    ),
    _Spec(
        "csd_moral",
        "Valid CSD, persona moral.",
        "CSD",
        "MOC900101AB1",
        "MOCK ORGANIZACION COMERCIAL SA DE CV",
        rfc_rep="PEFM800101AB2",
        curp="PEFM800101MDFRLR09",
        branch="Matriz",
    ),
    _Spec(
        "csd_fisica",
        "Valid CSD, persona fisica.",
        "CSD",
        "PEFM800101AB2",
        "MARIA PEREZ FLORES",
        curp="PEFM800101MDFRLR09",
        branch="Consultorio",
    ),
    _Spec(
        "fiel_moral",
        "FIEL (e.firma) of the persona moral: not a CSD.",
        "FIEL",
        "MOC900101AB1",
        "MOCK ORGANIZACION COMERCIAL SA DE CV",
        rfc_rep="PEFM800101AB2",
        curp="PEFM800101MDFRLR09",
        email="contacto@mock.example",
    ),
    _Spec(
        "csd_expired",
        "CSD that expired on 2023-01-01.",
        "CSD",
        "CAD850101AB3",
        "CADUCADA SA DE CV",
        rfc_rep="PEFM800101AB2",
        curp="PEFM800101MDFRLR09",
        branch="Matriz",
        not_before=datetime(2019, 1, 1, tzinfo=UTC),
        not_after=datetime(2023, 1, 1, tzinfo=UTC),
    ),
    _Spec(
        "csd_untrusted",
        "CSD issued by an impostor CA with the same name as the root but another key.",
        "CSD",
        "UNT900101AA4",
        "NO CONFIABLE SA DE CV",
        rfc_rep="PEFM800101AB2",
        curp="PEFM800101MDFRLR09",
        branch="Matriz",
        issuer="impostor",
    ),
    _Spec(
        "sat_acuse",
        "Signer of the acuses the mock returns (fake SAT).",
        "ACUSE",
        "SAT970701NN3",
        "SERVICIO DE ADMINISTRACION TRIBUTARIA",
        branch="Acuses de cancelacion",
    ),
)
FIXTURE_NAMES: tuple[str, ...] = tuple(s.name for s in _SPECS)


def packaged_dir() -> Path:
    """Directory holding the canonical PKI shipped with the package."""
    return Path(__file__).resolve().parent


def load_manifest(directory: Path | None = None) -> dict:
    return json.loads(((directory or packaged_dir()) / MANIFEST).read_text(encoding="utf-8"))


def fixture(name: str, directory: Path | None = None) -> FixtureInfo:
    """Describe one fixture of the packaged PKI (or of ``directory``). Raises KeyError for unknown names."""
    base = directory or packaged_dir()
    entries = load_manifest(base)["certificates"]
    if name not in entries:
        raise KeyError(f"unknown fixture {name!r}; known: {', '.join(sorted(entries))}")
    e = entries[name]
    return FixtureInfo(
        name=name,
        cer_path=base / e["cer"],
        key_path=base / e["key"],
        password=e["password"],
        rfc=e["rfc"],
        kind=e["kind"],
        certificate_number=e["certificate_number"],
        legal_name=e["legal_name"],
        not_before=datetime.fromisoformat(e["not_before"]),
        not_after=datetime.fromisoformat(e["not_after"]),
        description=e["description"],
    )


def export(out_dir: str | Path) -> list[Path]:
    """Copy the packaged PKI (certificates, keys, manifest, README) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(packaged_files()):
        target = out / path.name
        shutil.copyfile(path, target)
        written.append(target)
    readme = out / "README.md"
    readme.write_text(readme_text(load_manifest()), encoding="utf-8")
    written.append(readme)
    return written


def packaged_files() -> list[Path]:
    base = packaged_dir()
    return [p for p in base.iterdir() if p.suffix in (".cer", ".key") or p.name == MANIFEST]


def generate_pki(out_dir: str | Path, password: str = PASSWORD) -> list[Path]:
    """Generate a brand-new fake PKI (fresh keys and random serials) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    issued: dict[str, tuple[x509.Certificate, rsa.RSAPrivateKey]] = {}
    root_key = _new_key()
    root = _root_certificate(_SPECS[0], root_key)
    issued[ROOT] = (root, root_key)
    impostor_key = _new_key()
    issued["impostor"] = (_root_certificate(_SPECS[0], impostor_key), impostor_key)

    manifest: dict = {"password": password, "root": ROOT, "certificates": {}}
    written: list[Path] = []
    for spec in _SPECS:
        if spec.kind == "CA":
            cert, key = issued[ROOT]
        else:
            key = _new_key()
            ca_cert, ca_key = issued[spec.issuer]
            cert = _leaf_certificate(spec, key, ca_cert, ca_key)
        cer_path, key_path = out / f"{spec.name}.cer", out / f"{spec.name}.key"
        cer_path.write_bytes(cert.public_bytes(_der()))
        key_path.write_bytes(encrypt_private_key(key, password))
        written += [cer_path, key_path]
        parsed = load_certificate(cer_path.read_bytes())
        manifest["certificates"][spec.name] = {
            "cer": cer_path.name,
            "key": key_path.name,
            "password": password,
            "rfc": parsed.rfc if spec.kind != "CA" else None,
            "kind": "CA" if spec.kind == "CA" else parsed.kind,
            "certificate_number": parsed.certificate_number,
            "legal_name": parsed.legal_name,
            "not_before": parsed.not_before.isoformat(),
            "not_after": parsed.not_after.isoformat(),
            "issuer": parsed.issuer_name,
            "description": spec.description,
        }
    manifest_path = out / MANIFEST
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(manifest_path)
    return written


def readme_text(manifest: dict) -> str:
    lines = [
        "# Test certificates (fake SAT PKI)",
        "",
        "Generated by `mockserver.sat.pki`; **fake**, for tests and demos only. pac-mock trusts",
        "`ac_uat.cer` by default and signs acuses with `sat_acuse`. Regenerate with",
        "`pac-mock fixtures --new --out DIR`; export this set with `pac-mock fixtures --out DIR`.",
        "",
        f"Every `.key` is PKCS#8 DER encrypted with the password `{manifest['password']}`.",
        "",
        "| name | kind | RFC | no. certificado | valid | description |",
        "|---|---|---|---|---|---|",
    ]
    for name, e in manifest["certificates"].items():
        valid = f"{e['not_before'][:10]} → {e['not_after'][:10]}"
        lines.append(
            f"| `{name}` | {e['kind']} | {e['rfc'] or ''} | {e['certificate_number']} | {valid} | {e['description']} |"
        )
    return "\n".join(lines) + "\n"


# --- certificate construction -------------------------------------------------------------------


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _der():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def _attr(oid: ObjectIdentifier, value: str) -> x509.NameAttribute:
    if oid in (NameOID.EMAIL_ADDRESS,):
        return x509.NameAttribute(oid, value, _type=_ASN1Type.IA5String)
    if oid == NameOID.COUNTRY_NAME:
        return x509.NameAttribute(oid, value, _type=_ASN1Type.PrintableString)
    kind = _ASN1Type.PrintableString if set(value) <= _PRINTABLE else _ASN1Type.UTF8String
    return x509.NameAttribute(oid, value, _type=kind)


def _root_name(spec: _Spec) -> x509.Name:
    # Same attribute list and order as SAT's test CA "AC UAT".
    return x509.Name(
        [
            _attr(NameOID.COMMON_NAME, spec.legal_name),
            _attr(NameOID.ORGANIZATION_NAME, "SERVICIO DE ADMINISTRACION TRIBUTARIA"),
            _attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "SAT-IES Authority"),
            _attr(NameOID.EMAIL_ADDRESS, "ac-uat-fake@pac-mock.invalid"),
            _attr(NameOID.STREET_ADDRESS, "Calle Falsa 123"),
            _attr(NameOID.POSTAL_CODE, "06370"),
            _attr(NameOID.COUNTRY_NAME, "MX"),
            _attr(NameOID.STATE_OR_PROVINCE_NAME, "CIUDAD DE MEXICO"),
            _attr(NameOID.LOCALITY_NAME, "COYOACAN"),
            _attr(NameOID.X500_UNIQUE_IDENTIFIER, "2.5.4.45"),
            _attr(NameOID.UNSTRUCTURED_NAME, "responsable: ACDMA-SAT FAKE"),
        ]
    )


def _leaf_name(spec: _Spec) -> x509.Name:
    uid = f"{spec.rfc} / {spec.rfc_rep}" if spec.rfc_rep else spec.rfc
    curp = f" / {spec.curp}" if spec.rfc_rep else spec.curp
    attrs = [
        _attr(NameOID.COMMON_NAME, spec.legal_name),
        _attr(OID_NAME, spec.legal_name),
        _attr(NameOID.ORGANIZATION_NAME, spec.legal_name),
    ]
    if spec.kind == "FIEL":
        attrs.append(_attr(NameOID.COUNTRY_NAME, "MX"))
        attrs.append(_attr(NameOID.EMAIL_ADDRESS, spec.email or "fiel@pac-mock.invalid"))
    attrs.append(_attr(NameOID.X500_UNIQUE_IDENTIFIER, uid))
    if curp:
        attrs.append(_attr(NameOID.SERIAL_NUMBER, curp))
    if spec.branch and spec.kind != "FIEL":
        attrs.append(_attr(NameOID.ORGANIZATIONAL_UNIT_NAME, spec.branch))
    return x509.Name(attrs)


def _random_serial() -> int:
    number = "3000100000" + "".join(secrets.choice("0123456789") for _ in range(10))
    return serial_of_certificate_number(number)


def _root_certificate(spec: _Spec, key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = _root_name(spec)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_random_serial())
        .not_valid_before(spec.not_before)
        .not_valid_after(spec.not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    spec: _Spec, key: rsa.RSAPrivateKey, ca: x509.Certificate, ca_key: rsa.RSAPrivateKey
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_leaf_name(spec))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(_random_serial())
        .not_valid_before(spec.not_before)
        .not_valid_after(spec.not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if spec.kind == "FIEL":
        builder = (
            builder.add_extension(
                _key_usage(
                    digital_signature=True,
                    content_commitment=True,
                    data_encipherment=True,
                    key_agreement=True,
                ),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.UnrecognizedExtension(_NETSCAPE_CERT_TYPE, b"\x03\x02\x05\xa0"), critical=False
            )
        )
    else:
        builder = builder.add_extension(
            _key_usage(digital_signature=True, content_commitment=True), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256())


def _key_usage(**on: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    flags.update(on)
    return x509.KeyUsage(**flags)
