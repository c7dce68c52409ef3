"""Bad admin arguments get a 400 with a message naming what is wrong, from every route that reads them."""

from __future__ import annotations

import pytest

from mockserver.app import create_app, runtime_of
from mockserver.settings import Settings


@pytest.fixture(scope="module")
def client():
    app = create_app(Settings(memory=True))
    yield app.test_client()
    runtime_of(app).close()


@pytest.mark.parametrize("path", ["/__admin/requests", "/__admin/sessions", "/__admin/registry", "/__admin/mail"])
def test_a_limit_that_is_no_whole_number(client, path):
    answer = client.get(f"{path}?limit=ten")
    assert answer.status_code == 400
    assert answer.get_json() == {"error": "bad request", "message": "limit must be a whole number"}
    assert client.get(f"{path}?limit=10").status_code == 200


@pytest.mark.parametrize("path", ["/__admin/requests", "/__admin/requests/count"])
def test_a_uuid_filter_that_is_no_uuid(client, path):
    answer = client.get(f"{path}?uuid=nope")
    assert answer.status_code == 400 and "uuid must be a UUID" in answer.get_json()["message"]


@pytest.mark.parametrize(("body", "message"), [("[1]", "the body must be a JSON object"),
                                               ("{", "invalid JSON")])
def test_a_reset_body_that_is_no_json_object(client, body, message):
    answer = client.post("/__admin/reset", data=body, content_type="application/json")
    assert answer.status_code == 400 and answer.get_json()["message"].startswith(message)


def test_the_limits_hold_within_their_bounds(client):
    assert client.get("/__admin/sessions?limit=0").status_code == 200  # raised to 1, not refused
    assert client.get("/__admin/registry?limit=-5").get_json() == {"uuids": []}
