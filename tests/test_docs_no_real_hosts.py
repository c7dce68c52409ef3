"""The client snippets of docs/clients.md can reach no real provider: Python and Node run with the providers' host names unresolvable (every attempt is
logged and fails at once), every snippet loads only WSDLs the sandbox serves, and no URL in them
names anything but the sandbox. A control run shows the guard catches the mistake it is there for.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid as uuid_module
from pathlib import Path

import pytest
from test_other_clients import node_env, node_missing, php_missing

from mockserver.sat.pki import export
from mockserver.tls import provider_hosts

from helpers import ROOT

DOC = ROOT / "docs" / "clients.md"
GUARDS = ROOT / "tests" / "clients" / "no_real_hosts"
# The providers' registrable domains: any name under them is a real provider.
REAL_DOMAINS = ("solucionfactible.com", "expidetufactura.com.mx", "mysuitetest.com", "mysuitecfdi.com",
                "mysuitemex.com", "fact.com.mx")
URL = re.compile(r"""https?://[^\s"'`)<>]+""")


def snippet(section: str, language: str, index: int = 0) -> str:
    """The ``index``-th fenced block of ``language`` under the ``## section`` heading."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    blocks = re.findall(rf"```{language}\n(.*?)```", text[start:end if end != -1 else None], re.DOTALL)
    return blocks[index]


SNIPPETS = [("Python (zeep)", "python"), ("Node.js (node-soap)", "js"), ("PHP (SoapClient)", "php"),
            ("curl", "sh")]


# XML namespace names and SOAP action URIs are names, not places: nothing is fetched from them.
NAMES = re.compile(r"""(xmlns(:\w+)?|action)=\\?["'][^"'\\]*\\?["']""")


@pytest.mark.parametrize(("section", "language"), SNIPPETS)
def test_no_snippet_names_a_real_provider_url(section, language):
    code = NAMES.sub("", snippet(section, language))
    urls = URL.findall(code)
    assert urls, "a snippet without the sandbox's URL cannot be run against it"
    for url in urls:
        assert re.match(r"https?://localhost:8080(/|$)", url), f"{section}: {url} is not the sandbox"
    # a provider's domain may appear in a user name (testing@solucionfactible.com), nowhere else
    without_mail = re.sub(r"[\w.+-]+@[\w.-]+", "", code)
    assert not [d for d in REAL_DOMAINS if d in without_mail], section


@pytest.fixture
def workdir(tmp_path):  # type: ignore[no-untyped-def]
    """What the snippets expect beside them: fixtures/ and a signed cancelacion.xml (signed now)."""
    export(tmp_path / "fixtures")
    uuid = str(uuid_module.uuid4()).upper()
    done = subprocess.run([sys.executable, "-m", "mockserver", "sign", "--cer", "fixtures/csd_moral.cer", "--key",
                           "fixtures/csd_moral.key", "--password", "12345678a", "--uuid", f"{uuid}:02", "--out",
                           "cancelacion.xml"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return tmp_path


def guarded_env(root: str, workdir: Path) -> dict[str, str]:
    return {
        **node_env(),
        "PAC_MOCK_URL": root,
        "PAC_MOCK_REAL_HOSTS": ",".join(REAL_DOMAINS),
        "PAC_MOCK_BLOCKED_LOG": str(workdir / "blocked.log"),
        "PYTHONPATH": os.pathsep.join([str(GUARDS), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "NODE_OPTIONS": f"--require {GUARDS / 'guard.js'}",
    }


def run(cmd: list[str], workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=120)


def blocked(workdir: Path) -> list[str]:
    log = workdir / "blocked.log"
    return log.read_text().split() if log.exists() else []


def test_python_snippet_runs_against_the_sandbox_only(server, workdir):
    pytest.importorskip("zeep")
    code = snippet("Python (zeep)", "python").replace("http://localhost:8080", server.url)
    (workdir / "client.py").write_text(code, encoding="utf-8")
    done = run([sys.executable, "client.py"], workdir, guarded_env(server.url, workdir))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("200 ") and lines[1].startswith("211 ")  # cancelarAsincrono, then status
    assert lines[2].startswith("200 ")  # Expide Tu Factura accepted the signed Cancelacion
    assert blocked(workdir) == []


def test_node_snippet_runs_against_the_sandbox_only(server, workdir):
    if reason := node_missing():
        pytest.skip(reason)
    (workdir / "cancel.js").write_text(snippet("Node.js (node-soap)", "js"), encoding="utf-8")
    done = run(["node", "cancel.js", str(uuid_module.uuid4())], workdir, guarded_env(server.url, workdir))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("702 ") and lines[1].startswith("200 ") and lines[2].startswith("false 3141")
    assert blocked(workdir) == []


def test_php_snippet_runs_against_the_sandbox_only(server, workdir):
    if reason := php_missing():
        pytest.skip(reason)
    (workdir / "cancel.php").write_text(snippet("PHP (SoapClient)", "php"), encoding="utf-8")
    env = {**os.environ, "PAC_MOCK_URL": server.url}
    done = run(["php", "cancel.php", str(uuid_module.uuid4())], workdir, env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("702 ") and lines[1].startswith("200 ") and lines[2].startswith("false 3141")


def test_curl_snippets_run_against_the_sandbox_only(server, workdir):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    script = snippet("curl", "sh").replace("http://localhost:8080", server.url)
    done = run(["bash", "-c", "set -e\n" + script], workdir, dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("Envelope>") == 3 and "<faultcode>" not in done.stdout


def local_sf_wsdl(workdir: Path) -> Path:
    """The project's SF WSDL as a client would keep it: addresses at the real provider."""
    text = (ROOT / "mockserver/providers/solucionfactible/wsdl/Cancelacion.wsdl").read_text(encoding="utf-8")
    path = workdir / "Cancelacion.wsdl"
    path.write_text(text.replace("http://localhost:8080/", "https://solucionfactible.com/"), encoding="utf-8")
    return path


NODE_LOCAL_WSDL = """
const soap = require("soap");
const MOCK = process.env.PAC_MOCK_URL;
async function main(mode) {
  let sfClient, sf;
  if (mode === "documented") {
    sfClient = await soap.createClientAsync("Cancelacion.wsdl",
      { endpoint: `${MOCK}/ws/services/Cancelacion.CancelacionHttpsSoap11Endpoint/` });
    sf = sfClient.Cancelacion.CancelacionHttpsSoap11Endpoint;
  } else {  // the mistake: the port object is taken before setEndpoint
    sfClient = await soap.createClientAsync("Cancelacion.wsdl");
    sf = sfClient.Cancelacion.CancelacionHttpsSoap11Endpoint;
    sfClient.setEndpoint(`${MOCK}/ws/services/Cancelacion`);
  }
  const status = await new Promise((resolve, reject) => sf.getStatusCancelacionAsincrona({
    usuario: "testing@solucionfactible.com", password: "timbrado.SF.16672",
    transactionId: "C5E58106-6C1E-41C9-A211-FB8BAD1CABB0",
  }, (err, result) => (err ? reject(err) : resolve(result))));
  console.log(status.return.status);
}
main(process.argv[2]).catch((err) => { console.error(err.message); process.exitCode = 1; });
"""


def test_node_local_wsdl_recipe_stays_local_and_the_guard_catches_the_old_one(sandbox, workdir):
    if reason := node_missing():
        pytest.skip(reason)
    local_sf_wsdl(workdir)
    (workdir / "local.js").write_text(NODE_LOCAL_WSDL, encoding="utf-8")
    env = guarded_env(sandbox.url, workdir)
    documented = run(["node", "local.js", "documented"], workdir, env)
    assert documented.returncode == 0 and documented.stdout.strip() == "702", documented.stderr
    assert blocked(workdir) == []
    # The control: port taken before setEndpoint goes to the real host, and the guard stops it at once.
    mistake = run(["node", "local.js", "mistake"], workdir, env)
    assert mistake.returncode == 1 and "ENOTFOUND solucionfactible.com" in mistake.stderr
    assert blocked(workdir) == ["solucionfactible.com"]


def test_python_guard_refuses_a_real_host(sandbox, workdir):
    code = "import urllib.request\nurllib.request.urlopen('https://solucionfactible.com/ws/services/Cancelacion?wsdl', timeout=5)"
    done = run([sys.executable, "-c", code], workdir, guarded_env(sandbox.url, workdir))
    assert done.returncode == 1 and "blocked by the docs test" in done.stderr
    assert blocked(workdir) == ["solucionfactible.com"]


def test_every_provider_host_of_the_certificate_is_guarded():
    hosts = provider_hosts()
    assert hosts and all(any(h == d or h.endswith("." + d) for d in REAL_DOMAINS) for h in hosts)
