"""The test helpers themselves: a reserved port is nobody else's, and a server that does not start fails
the test that needs it instead of letting it run against nothing (or against someone else's server)."""

from __future__ import annotations

import socket

import pytest

from helpers import ServeProcess, reserved_port


def test_a_reserved_port_is_nobody_elses_and_refuses_connections():
    with reserved_port() as port:
        with socket.socket() as other, pytest.raises(OSError, match="in use"):
            other.bind(("127.0.0.1", port))
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_a_server_that_does_not_start_fails_the_test(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1]\n", encoding="utf-8")
    server = ServeProcess(tmp_path / "data", "--scenarios", str(bad))
    try:
        with pytest.raises(AssertionError, match=r"exited with 2:\n(?s:.*)bad\.yaml:1:"):
            server.start()
    finally:
        server.close()


def test_a_started_server_answers_on_its_reserved_port(tmp_path):
    with ServeProcess(tmp_path) as server:
        assert server.health["status"] == "ok"
        with socket.socket() as other, pytest.raises(OSError, match="in use"):
            other.bind(("127.0.0.1", server.port))
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
