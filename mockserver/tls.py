"""HTTPS for ``pac-mock serve --tls``: a local CA and a server certificate, made once per data directory.

The server certificate names ``localhost``, the loopback addresses and the providers' real host names,
so a client configured with the providers' ``https://`` URLs works unchanged once those names resolve
to the sandbox and it trusts the CA (``pac-mock tls ca`` prints it). The CA's key never leaves the
data directory; both keys are written readable by their owner only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import signal
import ssl
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .settings import Settings

# The compose service name besides localhost; the providers' own host names come from their declarations.
LOCAL_NAMES = ("localhost", "pac-mock")
LOCAL_ADDRESSES = ("127.0.0.1", "::1")
DEFAULT_TLS_PORT = 8443
_VALID_DAYS = 3650


@dataclass(frozen=True)
class TlsFiles:
    """Where the sandbox's CA certificate and its server certificate and key are."""

    ca_cert: Path
    cert: Path
    key: Path


def tls_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "tls"


def ensure_certificates(data_dir: Path) -> TlsFiles:
    """The data directory's CA and server certificate, generated on first use and reused afterwards."""
    folder = tls_dir(data_dir)
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca_key_path = folder / "ca.key"
    present = all(p.is_file() for p in (files.ca_cert, files.cert, files.key, ca_key_path))
    if present and not certificate_expired(files.cert):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    if files.ca_cert.is_file() and ca_key_path.is_file():
        ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    else:
        ca_key = _new_key()
        ca_cert = _ca_certificate(ca_key)
        _write_private(ca_key_path, _pem_key(ca_key))
        files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    key = _new_key()
    cert = _server_certificate(key, ca_cert, ca_key)  # type: ignore[arg-type]
    _write_private(files.key, _pem_key(key))
    # The chain (server, then CA) lets clients that only trust the CA build the path from it.
    files.cert.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    return files


def _new_key() -> rsa.RSAPrivateKey:
    # RSA rather than EC: every client stack here (old JDKs and Mono included) takes RSA.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def provider_hosts() -> list[str]:
    """The providers' real HTTPS host names (``Provider.hosts``), for clients that keep them."""
    from .providers import all_providers

    return list(dict.fromkeys(h for p in all_providers() for h in p.hosts))


def server_names() -> list[str]:
    return [*LOCAL_NAMES, *LOCAL_ADDRESSES, *provider_hosts()]


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _ca_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pac-mock"),
        x509.NameAttribute(NameOID.COMMON_NAME, "pac-mock local CA (sandbox only)"),
    ])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _server_certificate(
    key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in (*LOCAL_NAMES, *provider_hosts())]
    alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in LOCAL_ADDRESSES]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        # Under 398 days: what browsers and Apple's TLS stack still accept for a server certificate.
        .not_valid_after(now + dt.timedelta(days=397))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def certificate_expired(cert_path: Path, margin_days: int = 7) -> bool:
    """True when the server certificate ends within ``margin_days`` (it is then made again)."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=margin_days)


def files_for(settings: Settings) -> TlsFiles:
    """One's own certificate and key (``--tls-cert/--tls-key``), else the data directory's."""
    if settings.tls_cert or settings.tls_key:
        if not (settings.tls_cert and settings.tls_key):
            raise ValueError("--tls-cert and --tls-key go together")
        for path in (settings.tls_cert, settings.tls_key):
            if not Path(path).is_file():
                raise ValueError(f"{path}: no such file")
        ca = tls_dir(settings.data_dir) / "ca.pem"
        return TlsFiles(ca, Path(settings.tls_cert), Path(settings.tls_key))
    return ensure_certificates(settings.data_dir)


# --- the HTTPS listener of ``pac-mock serve --tls`` --------------------------------------------------------

# granian binds one address per server, so HTTPS is a second granian server in a child process, with
# its own workers; both serve the same app and share state through the SQLite file, as workers do.
_HTTPS_MAIN = "from mockserver.tls import serve_https; serve_https()"


def start_https(settings: Settings) -> subprocess.Popen:
    """Start the HTTPS server beside the HTTP one (it reads the settings from the environment)."""
    files = files_for(settings)
    env = {**os.environ, **settings.to_env(), "PAC_MOCK_TLS_CERT": str(files.cert), "PAC_MOCK_TLS_KEY": str(files.key)}
    return subprocess.Popen([sys.executable, "-c", _HTTPS_MAIN], env=env)


def stop_https(process: subprocess.Popen | None, grace: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def serve_https() -> None:
    from granian.constants import SSLProtocols

    from . import lifeline
    from .server import run_granian

    lifeline.die_with_parent(lifeline.parent_from_env())  # the HTTP server that started this one
    settings = Settings.from_env()
    run_granian(
        settings,
        settings.tls_port,
        ssl_cert=settings.tls_cert,
        ssl_key=settings.tls_key,
        # granian's default minimum is TLS 1.3; JDK 8, Mono and older .NET clients speak TLS 1.2.
        ssl_protocol_min=SSLProtocols.tls12,
    )


# --- in-process HTTPS for tests ----------------------------------------------------------------------------


class BackgroundHttps:
    """HTTPS in a thread for an in-process :class:`~mockserver.server.BackgroundServer`'s app."""

    def __init__(self, app, files: TlsFiles, host: str = "127.0.0.1") -> None:  # type: ignore[no-untyped-def]
        from werkzeug.serving import make_server

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(files.cert, files.key)
        self.files = files
        self._server = make_server(host, 0, app, threaded=True, ssl_context=context)
        self.url = f"https://localhost:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="pac-mock-https", daemon=True)

    def __enter__(self) -> BackgroundHttps:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- ``pac-mock tls ca`` -----------------------------------------------------------------------------------


def _ca_command(args: argparse.Namespace) -> int:
    settings = Settings.load(args.config).with_overrides(data_dir=args.data_dir)
    pem = ensure_certificates(settings.data_dir).ca_cert.read_bytes()
    if args.out:
        Path(args.out).write_bytes(pem)
        print(f"wrote {args.out}: trust it in the client to reach the sandbox over HTTPS", file=sys.stderr)
    else:
        sys.stdout.write(pem.decode("ascii"))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    tls = sub.add_parser("tls", help="the sandbox's local CA for HTTPS")
    actions = tls.add_subparsers(dest="tls_command", required=True)
    ca = actions.add_parser("ca", help="print (or write) the CA certificate that signs the HTTPS certificate")
    ca.add_argument("--data-dir", type=Path, help="the data directory whose CA it is (default ./data)")
    ca.add_argument("--config", type=Path, help="a TOML settings file (PAC_MOCK_CONFIG)")
    ca.add_argument("--out", type=Path, help="write the PEM here instead of printing it")
    ca.set_defaults(func=_ca_command)
