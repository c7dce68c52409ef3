"""HTTPS: the local CA and server certificate made once per data directory, ``pac-mock tls ca``, and
``pac-mock serve --tls`` answering on HTTP and HTTPS at once (generated or one's own certificate)."""

from __future__ import annotations

import signal
import socket
import ssl
import stat
import subprocess
import sys
import time

import pytest
import requests
import urllib3
from cryptography import x509

from mockserver.tls import certificate_expired, ensure_certificates, provider_hosts

from helpers import ROOT, server_env, stop_server


def load(path) -> list[x509.Certificate]:  # type: ignore[no-untyped-def]
    return x509.load_pem_x509_certificates(path.read_bytes())


def test_certificates_are_made_once_per_data_directory(tmp_path):
    files = ensure_certificates(tmp_path)
    first = (files.ca_cert.read_bytes(), files.cert.read_bytes(), files.key.read_bytes())
    again = ensure_certificates(tmp_path)
    assert (again.ca_cert.read_bytes(), again.cert.read_bytes(), again.key.read_bytes()) == first
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls" / "ca.key").stat().st_mode) == 0o600
    # another data directory, another CA
    assert ensure_certificates(tmp_path / "other").ca_cert.read_bytes() != first[0]


def test_server_certificate_names_localhost_and_the_providers_and_chains_to_the_ca(tmp_path):
    files = ensure_certificates(tmp_path)
    (ca,) = load(files.ca_cert)
    leaf, chained_ca = load(files.cert)
    assert chained_ca == ca
    leaf.verify_directly_issued_by(ca)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(names.get_values_for_type(x509.DNSName))
    assert {"localhost", *provider_hosts()} <= dns
    assert {"solucionfactible.com", "www.mysuitetest.com", "async.mysuitetest.com"} <= dns
    assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert not certificate_expired(files.cert)
    assert certificate_expired(files.cert, margin_days=400)


def cli(*args: str, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "mockserver", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, **kw)


def test_tls_ca_prints_or_writes_the_ca_of_the_data_directory(tmp_path):
    printed = cli("tls", "ca", "--data-dir", str(tmp_path))
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.encode() == (tmp_path / "tls" / "ca.pem").read_bytes()
    out = tmp_path / "pac-mock-ca.pem"
    written = cli("tls", "ca", "--data-dir", str(tmp_path), "--out", str(out))
    assert written.returncode == 0 and out.read_bytes() == printed.stdout.encode()


@pytest.mark.parametrize(("extra", "words"), [
    (["--memory"], "drop --memory"),
    (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
])
def test_serve_tls_refuses_what_it_cannot_do(tmp_path, reserve_port, extra, words):
    result = cli("serve", "--tls", "--port", str(reserve_port()), "--tls-port", str(reserve_port()),
                 "--data-dir", str(tmp_path), *extra)
    assert result.returncode == 2 and words in result.stderr


def serve_tls(tmp_path, reserve_port, *extra: str) -> tuple[subprocess.Popen, int, int]:  # type: ignore[no-untyped-def]
    http_port, https_port = reserve_port(), reserve_port()
    env = server_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--tls", "--port", str(http_port), "--tls-port",
         str(https_port), "--data-dir", str(tmp_path / "data"), "--workers", "1", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env, start_new_session=True,
    )
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl+C stops" in line:
            break
    assert any(f"https://127.0.0.1:{https_port}" in line for line in lines), "".join(lines)
    return proc, http_port, https_port


def https_get(port: int, ca, path: str, server_hostname: str = "localhost") -> urllib3.BaseHTTPResponse:  # type: ignore[no-untyped-def]
    """GET over HTTPS from 127.0.0.1 as if ``server_hostname`` resolved to it (no hosts file needed)."""
    pool = urllib3.HTTPSConnectionPool("127.0.0.1", port, server_hostname=server_hostname, ca_certs=str(ca),
                                       cert_reqs="CERT_REQUIRED", assert_hostname=server_hostname, retries=False)
    return pool.request("GET", path, headers={"Host": f"{server_hostname}:{port}"}, timeout=10)


def wait_https(port: int, ca) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while True:
        try:
            https_get(port, ca, "/__admin/health")
            return
        except urllib3.exceptions.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_serve_tls_answers_http_and_https_with_the_generated_certificate(tmp_path, reserve_port):
    proc, http_port, https_port = serve_tls(tmp_path, reserve_port)
    try:
        ca = tmp_path / "data" / "tls" / "ca.pem"
        wait_https(https_port, ca)
        assert requests.get(f"http://127.0.0.1:{http_port}/__admin/health", timeout=10).json()["status"] == "ok"
        assert requests.get(f"https://localhost:{https_port}/__admin/health", verify=str(ca),
                            timeout=10).json()["status"] == "ok"
        # the certificate is good for the real host name, and the WSDL points back at it over https
        wsdl = https_get(https_port, ca, "/factwsfront.asmx?wsdl", server_hostname="async.mysuitetest.com")
        assert wsdl.status == 200
        assert f'location="https://async.mysuitetest.com:{https_port}/factwsfront.asmx"'.encode() in wsdl.data
        # without the CA, the client refuses the connection
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"https://localhost:{https_port}/__admin/health", timeout=10)
        # no client gets a protocol older than TLS 1.2
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(ca)
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", https_port), timeout=10) as raw, \
                old.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() == "TLSv1.2"
    finally:
        stop_server(proc)


def test_serve_tls_with_ones_own_certificate(tmp_path, reserve_port):
    own = ensure_certificates(tmp_path / "own")  # any CA will do; this one is not the data directory's
    proc, _http_port, https_port = serve_tls(tmp_path, reserve_port, "--tls-cert", str(own.cert), "--tls-key", str(own.key))
    try:
        wait_https(https_port, own.ca_cert)
        r = requests.get(f"https://localhost:{https_port}/__admin/health", verify=str(own.ca_cert), timeout=10)
        assert r.json()["status"] == "ok"
        assert not (tmp_path / "data" / "tls").exists()  # nothing generated when one's own is given
    finally:
        stop_server(proc)
    assert proc.returncode in (0, -signal.SIGTERM)
