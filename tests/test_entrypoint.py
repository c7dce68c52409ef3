"""The docker image's start-up, without docker: the Dockerfile's own ENV, COPY, ENTRYPOINT and CMD,
replayed in a fresh virtual environment that holds a real (non-editable) install of the project.

What it catches: files the image build context leaves out, package data missing from the wheel
(WSDLs, dashboard, default scenarios), a console script that does not start, a server that ignores
PAC_MOCK_* variables or does not stop cleanly on SIGTERM (``docker stop``). Also checks that
docker/compose.yaml agrees with the Dockerfile.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, wait_until_healthy

DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"


@dataclass
class Image:
    """What the Dockerfile says about the final image."""

    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    copies: list[tuple[list[str], str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)


def read_dockerfile(path: Path = DOCKERFILE) -> Image:
    lines: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        if raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line:
            lines.append(line)
    image = Image()
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            image = Image()  # only the last stage is the image
        elif keyword == "ENV":
            words = shlex.split(rest)
            if words and "=" not in words[0]:  # legacy "ENV KEY value"
                image.env[words[0]] = " ".join(words[1:])
            else:
                image.env.update(w.split("=", 1) for w in words)
        elif keyword == "WORKDIR":
            image.workdir = rest
        elif keyword == "COPY":
            words = [w for w in shlex.split(rest) if not w.startswith("--")]
            image.copies.append((words[:-1], words[-1]))
        elif keyword == "RUN":
            image.runs.append(rest)
        elif keyword == "ENTRYPOINT":
            image.entrypoint = json.loads(rest)
        elif keyword == "CMD":
            image.cmd = json.loads(rest)
        elif keyword == "VOLUME":
            image.volumes = json.loads(rest) if rest.startswith("[") else rest.split()
        elif keyword == "EXPOSE":
            image.expose += rest.split()
        elif keyword == "HEALTHCHECK":
            image.healthcheck = json.loads(rest[rest.index("CMD") + 3:].strip())
    return image


def _get(url: str, timeout: float = 2) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _build_context(image: Image, app: Path) -> None:
    """Lay out WORKDIR as the image's COPY lines do (relative destinations are under WORKDIR)."""
    for sources, dest in image.copies:
        target = app / Path(dest).relative_to(image.workdir) if dest.startswith("/") else app / dest
        into_dir = dest.endswith("/") or len(sources) > 1
        for source in sources:
            src = ROOT / source
            final = target / src.name if into_dir else target
            if src.is_dir():
                shutil.copytree(src, final, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, final)


def _fresh_venv(tmp: Path, app: Path) -> Path:
    """A new venv with the project really installed from the build context (like the image's
    ``pip install .``). Its dependencies come from this interpreter's site-packages through a .pth
    file, so nothing but the build backend may need the package index."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "_pac_mock_test_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    install = [python, "-m", "pip", "install", "--quiet", "--no-deps", "--ignore-installed",
               "--disable-pip-version-check", str(app)]
    try:  # offline when this environment has a build backend new enough for pyproject.toml
        metadata.version("wheel")
        offline = int(metadata.version("setuptools").split(".")[0]) >= 69
    except metadata.PackageNotFoundError:
        offline = False
    if offline:
        install[4:4] = ["--no-build-isolation", "--no-index"]
    result = subprocess.run(install, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        unreachable = ("Could not find a version", "No matching distribution", "Failed to establish",
                       "Temporary failure in name resolution")
        if not offline and any(s in result.stdout + result.stderr for s in unreachable):
            pytest.skip("building the wheel needs setuptools and wheel: not installed here and the index is "
                        "unreachable")
        pytest.fail(f"pip install of the build context failed:\n{result.stdout}\n{result.stderr}")
    return venv


def test_image_entrypoint_serves_and_stops_on_sigterm(tmp_path, reserve_port):
    port = reserve_port()
    image = read_dockerfile()
    assert image.entrypoint and image.cmd, "the Dockerfile must say how the image starts"
    assert any("pip install" in run and (" ." in run or " '.[" in run) for run in image.runs)  # the context

    app = tmp_path / "app"  # stands for WORKDIR
    _build_context(image, app)
    venv = _fresh_venv(tmp_path, app)
    installed = subprocess.run([venv / "bin" / "python", "-c", "import mockserver; print(mockserver.__file__)"],
                               cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert installed.startswith(str(venv)), f"mockserver imported from {installed}, not the fresh install"

    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAC_MOCK_", "PYTHON"))}
    workdir = image.workdir.rstrip("/") + "/"
    env.update({k: str(app / v[len(workdir):]) if v.startswith(workdir) else v for k, v in image.env.items()})
    assert image.env.get("PAC_MOCK_HOST") == "0.0.0.0" and image.volumes == [image.env["PAC_MOCK_DATA_DIR"]]
    # Settings come from the environment only, so `docker run -e PAC_MOCK_…` changes any of them.
    assert not [a for a in image.cmd if a.startswith("-")], f"CMD hard-codes flags: {image.cmd}"
    # The image listens on every interface of its container; here, loopback on a free port.
    env.update(PAC_MOCK_HOST="127.0.0.1", PAC_MOCK_PORT=str(port), PAC_MOCK_DATA_DIR=str(data),
               PAC_MOCK_TLS_PORT=str(reserve_port()),
               PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    argv = [str(app / a[len(workdir):]) if a.startswith(workdir) else a for a in image.entrypoint + image.cmd]
    argv[0] = shutil.which(argv[0], path=str(venv / "bin")) or argv[0]
    assert argv[0].startswith(str(venv)), "the ENTRYPOINT must be a console script of the project"

    log_path = tmp_path / "server.log"
    log = log_path.open("ab")  # append mode: reading the file here never moves the server's offset
    server = subprocess.Popen(argv, cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        health = wait_until_healthy(base, server, log_path)
        assert health["status"] == "ok"
        assert health["scenarios"]["reload_failed"] is False
        status, scenarios = _get(base + "/__admin/scenarios")
        assert json.loads(scenarios)["file"] == {**json.loads(scenarios)["file"],
                                                  "path": str(app / "scenarios.yaml"), "error": None}
        assert [p["id"] for p in health["providers"]] == ["solucionfactible", "expidetufactura", "mysuite"]
        # Package data made it into the wheel: WSDLs and the dashboard.
        status, wsdl = _get(base + "/ws/services/Cancelacion?wsdl")
        assert status == 200 and f"{base}/ws/services/".encode() in wsdl
        assert _get(base + "/__admin/")[0] == 200 and _get(base + "/__admin/static/dashboard.js")[0] == 200
        # The image's own HEALTHCHECK command passes against it on the configured port, and fails
        # when the settings name a port nobody serves.
        check = image.healthcheck
        assert check[0] == "python" and not any("8080" in a for a in check)
        assert subprocess.run([venv / "bin" / "python", *check[1:]], env=env, timeout=30).returncode == 0
        elsewhere = {**env, "PAC_MOCK_PORT": str(reserve_port())}  # nobody listens there
        assert subprocess.run([venv / "bin" / "python", *check[1:]], env=elsewhere, capture_output=True,
                              timeout=30).returncode == 1
        # HTTPS answers too, with the certificate of the data directory's local CA.
        context = ssl.create_default_context(cafile=str(data / "tls" / "ca.pem"))
        https = f"https://localhost:{env['PAC_MOCK_TLS_PORT']}/__admin/health"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(https, timeout=5, context=context) as answer:
                    assert answer.status == 200
                    break
            except urllib.error.URLError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        # State lives in the data directory, the image's volume.
        assert (data / "pac-mock.sqlite3").exists()

        # The server announces itself and its endpoints once it answers.
        deadline = time.monotonic() + 15
        while f"ready on {base}" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert f"{base}/__admin/health" in log_path.read_text()

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert "Traceback" not in log_path.read_text()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        # No worker process outlives the server.
        try:
            os.killpg(server.pid, 0)
            leftover = True
        except ProcessLookupError:
            leftover = False
        if leftover:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
    assert not leftover, "worker processes were left running after SIGTERM"


def test_compose_file_matches_the_image():
    image = read_dockerfile()
    compose = yaml.safe_load(COMPOSE.read_text())
    mock = compose["services"]["pac-mock"]
    build = mock["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    env = mock["environment"]
    smtp_host = env["PAC_MOCK_SMTP_HOST"]
    mail = compose["services"][smtp_host]
    assert mail["image"].startswith("axllent/mailpit:v")  # pinned to a release, never :latest
    assert env["PAC_MOCK_SMTP_PORT"] == "1025"  # Mailpit's SMTP port inside the network
    assert any(str(p).endswith(":8025") for p in mail["ports"])  # its web UI
    assert mock["depends_on"][smtp_host]["condition"] == "service_healthy"
    assert mail["healthcheck"]["test"]
    assert image.expose == [image.env["PAC_MOCK_PORT"], image.env["PAC_MOCK_TLS_PORT"]]
    assert [str(p).rsplit(":", 1)[1] for p in mock["ports"]] == [
        image.env["PAC_MOCK_PORT"], env.get("PAC_MOCK_TLS_PORT", image.env["PAC_MOCK_TLS_PORT"])]
    # the HTTPS certificate names every network alias the compose file gives the sandbox
    from mockserver.tls import server_names

    assert set(mock["networks"]["default"]["aliases"]) <= set(server_names())
    volume, target = mock["volumes"][0].split(":")
    assert [target] == image.volumes and volume in compose["volumes"]
    assert mock["healthcheck"]["test"] == ["CMD", *image.healthcheck]


def _docker_ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore ``patterns`` leave ``path`` (relative, '/'-separated) out of the context:
    the last pattern that matches the path or one of its parent folders decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex, c) for c in candidates):
            ignored = not negated
    return ignored


def test_dockerignore_keeps_what_the_image_copies_and_nothing_heavy():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    image = read_dockerfile()
    for sources, _ in image.copies:
        for source in sources:
            assert not _docker_ignored(source, patterns), f"{source} is copied but ignored"
            if (ROOT / source).is_dir():
                for file in (ROOT / source).rglob("*"):
                    rel = file.relative_to(ROOT).as_posix()
                    if file.is_file() and "__pycache__" not in rel:
                        assert not _docker_ignored(rel, patterns), f"{rel} is needed in the image but ignored"
    for heavy in (".venv", ".venv-3.12/bin/python", ".git/HEAD", "data/pac-mock.sqlite3", "bench/.cache/x",
                  "tests/test_cli.py", "mockserver/__pycache__/app.cpython-312.pyc"):
        assert _docker_ignored(heavy, patterns), f"{heavy} would be sent to the docker daemon"


def test_compose_replicas_profile_puts_two_replicas_on_one_database_behind_the_proxy():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    replica, postgres, proxy = services["pac-mock-replica"], services["postgres"], services["proxy"]
    for service in (replica, postgres, proxy):
        assert service["profiles"] == ["replicas"]  # the plain `up` is unchanged
    assert "profiles" not in services["pac-mock"]
    assert replica["deploy"]["replicas"] == 2
    env = replica["environment"]
    db = postgres["environment"]
    # the password reaches libpq as PGPASSWORD, unencoded, and never sits in the URL
    assert env["PAC_MOCK_STORE"] == f"postgresql://{db['POSTGRES_USER']}@postgres:5432/{db['POSTGRES_DB']}"
    assert env["PGPASSWORD"] == db["POSTGRES_PASSWORD"]
    assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert postgres["healthcheck"]["test"] and ":" in postgres["image"] and not postgres["image"].endswith(":latest")
    # documents in one volume every replica mounts
    volume, target = replica["volumes"][0].split(":")
    assert target == env["PAC_MOCK_DOCUMENTS_DIR"] and volume in compose["volumes"]
    assert "ports" not in replica  # reached through the proxy only
    # the proxy forwards to the replicas' service name and port, with the sandbox's body limit
    source, mounted = proxy["volumes"][0].split(":")[:2]
    conf = (COMPOSE.parent / source).read_text()
    assert mounted.startswith("/etc/nginx/")
    assert "set $replicas pac-mock-replica;" in conf and f"http://$replicas:{image_port()}" in conf
    assert "client_max_body_size 64m;" in conf
    assert proxy["depends_on"]["pac-mock-replica"]["condition"] == "service_healthy"


def image_port() -> str:
    return read_dockerfile().env["PAC_MOCK_PORT"]
