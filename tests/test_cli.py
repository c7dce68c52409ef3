"""The command line: serve (granian) prints its endpoints and stops cleanly; check validates files."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import requests

from helpers import ROOT, server_env


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mockserver", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, **kwargs)


def test_check_accepts_the_default_file_and_rejects_a_bad_one_with_its_line(tmp_path):
    ok = run_cli("check", str(ROOT / "scenarios.yaml"))
    assert ok.returncode == 0 and "OK" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nproviders:\n  expidetufactura:\n    accounts: 7\n", encoding="utf-8")
    result = run_cli("check", str(bad))
    assert result.returncode == 1
    assert f"{bad}:4:" in result.stderr


def test_serve_refuses_a_bad_scenarios_file(tmp_path, free_port):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1]\n", encoding="utf-8")
    result = run_cli("serve", "--port", str(free_port), "--scenarios", str(bad), "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert f"{bad}:1:" in result.stderr


def test_serve_prints_every_endpoint_answers_and_stops_on_sigterm(tmp_path, free_port):
    port = free_port
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=server_env(),
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Admin API" in line:
                break
        text = "".join(lines)
        assert f"ready on http://127.0.0.1:{port}" in text
        for path in ("/ws/services/Cancelacion", "/cancelacion/CancelacionPruebas",
                     "/cancelacion/CancelacionProductivo", "factwsfront.asmx"):
            assert path in text
        health = requests.get(f"http://127.0.0.1:{port}/__admin/health", timeout=5)
        assert health.json()["status"] == "ok"
        assert (tmp_path / "pac-mock.sqlite3").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_serve_warns_when_the_admin_api_is_open_on_a_public_address(tmp_path, free_port):
    port = free_port
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--host", "0.0.0.0", "--port", str(port), "--data-dir",
         str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env=server_env(),
    )
    try:
        first = proc.stderr.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert "WARNING" in first and "PAC_MOCK_ADMIN_TOKEN" in first


def test_serve_refuses_a_bad_settings_file(tmp_path, free_port):
    config = tmp_path / "pac-mock.toml"
    config.write_text("workers = 'many'\n", encoding="utf-8")
    result = run_cli("serve", "--config", str(config), "--port", str(free_port))
    assert result.returncode == 2
    assert str(config) in result.stderr and "whole number" in result.stderr


def test_check_shows_the_effective_result_and_warns_of_a_provider_without_users(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("version: 1\nrules:\n  - {id: mine, provider: expidetufactura, outcome: {code: 205}}\n",
                    encoding="utf-8")
    result = run_cli("check", str(mine))
    assert result.returncode == 0, result.stderr
    assert "builds on: <built-in defaults>" in result.stdout
    assert "expidetufactura: 3 accounts (pruebas, sin-timbres, no-autorizado)" in result.stdout
    assert "mine" in result.stdout.split("rules:")[1] and "sf-sandbox-204" in result.stdout
    assert "WARNING" not in result.stdout
    alone = tmp_path / "alone.yaml"
    alone.write_text("version: 1\nextends: none\nproviders:\n  mysuite:\n    accounts: "
                     "[{user: 0c320b03-d4f1-47bc-9fb4-77995f9bf33e}]\n", encoding="utf-8")
    result = run_cli("check", str(alone))
    assert result.returncode == 0
    assert "WARNING: solucionfactible has no account" in result.stdout
    assert "WARNING: expidetufactura has no account" in result.stdout
    assert "WARNING: mysuite" not in result.stdout


def test_check_without_a_file_checks_what_serve_would_load(tmp_path):
    env = server_env()
    (tmp_path / "scenarios.yaml").write_text("version: 1\nseed: [broken]\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "mockserver", "check"], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path, env=env)
    assert result.returncode == 1 and "scenarios.yaml:2:" in result.stderr
    chosen = tmp_path / "chosen.yaml"
    chosen.write_text("version: 1\nextends: none\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "mockserver", "check"], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path, env={**env, "PAC_MOCK_SCENARIOS": str(chosen)})
    assert result.returncode == 0 and f"checking {chosen}" in result.stdout and "rules: (none)" in result.stdout
