"""HTTP API fuzzing driven by the service's own OpenAPI schema (schemathesis), with the fake detector.

Every operation of ``/openapi.json`` gets generated requests, schema-valid ones (positive) and
mutated ones (negative: wrong types, out-of-range numbers, missing or extra fields, odd
content types), sent in-process to an app built like the other service tests build theirs.

What must hold for every generated request:

* no 5xx, ever (``not_a_server_error``);
* a 2xx or documented response body matches its schema, with the right content type;
* schema-invalid data is refused with a 4xx (``negative_data_rejection``);
* the status is documented, except the 404 of an unknown session or alert id (the routes do not
  declare it; see ``UNDOCUMENTED_BUT_EXPECTED``);
* with an API key configured: the same request without a key, or with a wrong one, is refused
  (401; a body that is not JSON at all may be refused first, with 400 or 422, and reaches no route).

schemathesis writes valid JSON only; the ``test_hostile_*`` tests (hypothesis directly) add what a
JSON encoder never writes but a client may send: NaN/Infinity literals, lone surrogate escapes,
integers past 64 bits or past 4300 digits, deep nesting, odd content types, hostile query values
and path ids. Every answer must be a 2xx or a 4xx with a JSON ``detail`` that does not echo the input.

Bounded and reproducible: a fixed number of examples per operation, derandomized, no example
database; the whole file takes about 20 s on two busy cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")  # in the dev extra

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core import NotSet  # noqa: E402
from schemathesis.python import asgi  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from logbert.service.app import create_app  # noqa: E402
from logbert.service.settings import Settings  # noqa: E402

from ..streaming.fakes import FakeDetector  # noqa: E402
from .conftest import make_settings  # noqa: E402

API_KEY = "fuzz-key"
#: Examples per operation and generation mode. Derandomized: the same requests on every run.
MAX_EXAMPLES = 20
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
#: Statuses the routes answer without declaring them in the schema: an unknown id in the path.
UNDOCUMENTED_BUT_EXPECTED = {404}
#: Possible before any route runs: 413 (BodyLimitMiddleware). A JSON body that is not UTF-8 is a 422 json_invalid, as
#: broken JSON is (errors.http_error_handler; FastAPI's own answer was a bare 400).
ANY_ROUTE = {413}
PUBLIC = {"/health/live", "/health/ready"}
#: The keyed run sends each case three times (right key, none, wrong): fewer examples; the open run fuzzes.
KEYED_SETTINGS = settings(FUZZ_SETTINGS, max_examples=8)
#: The hostile-token tests are cheap (in-process, a few ms a request): more examples.
HOSTILE_SETTINGS = settings(FUZZ_SETTINGS, max_examples=60)

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, negative_data_rejection]
#: status_code_conformance is replaced by documented_status() below (it allows the unknown-id 404);
#: positive_data_acceptance is off: IngestRequest and ScoreRequest take exactly one of two fields,
#: a rule the generated schema cannot express, so a schema-valid body with both (or neither) is a 422.
EXCLUDED = [status_code_conformance, positive_data_acceptance]


def _app(tmp: Path, **overrides: Any) -> FastAPI:
    return create_app(make_settings(tmp, **overrides), detector=FakeDetector())


@pytest.fixture(scope="module")
def open_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    yield _app(tmp_path_factory.mktemp("fuzz-open"))
    asgi.shutdown_lifespans()  # the transport started the app's lifespan on its first request: stop it


@pytest.fixture(scope="module")
def keyed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    yield _app(tmp_path_factory.mktemp("fuzz-keyed"), api_key=API_KEY)
    asgi.shutdown_lifespans()


def documented_status(case: Any, status: int) -> None:
    """The status is one the schema declares for this operation, or one it is known to leave out."""
    if case.method.upper() != case.operation.method.upper():  # the coverage phase tries other methods
        # 404: another route's template matches (GET /v1/sessions/close-all is session "close-all")
        assert status in {404, 405}, f"{case.method} {case.formatted_path}: {status} for an undeclared method"
        return
    declared = {int(code) for code in case.operation.definition.raw.get("responses", {}) if code.isdigit()}
    allowed = declared | ANY_ROUTE | (UNDOCUMENTED_BUT_EXPECTED if "{" in case.operation.path else set())
    assert status in allowed, f"{case.operation.label}: undocumented status {status} (declared {sorted(declared)})"


#: The schema, read once from an app that is never started (the same with or without a key); each
#: test sends its cases to its own started app (``app=``). A lazy ``from_fixture`` schema would be
#: simpler, but schemathesis 4's lazy loader fails on pytest 9 (``Function`` has no ``_nodeid``).
_SCHEMA_APP = create_app(Settings(alerts_db=Path(":memory:")), detector=FakeDetector())
#: 413 is a fine way to refuse invalid data too: a generated body past ``max_body_bytes`` (8 MiB) gets it.
_REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
_CONFIG = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": _REJECTIONS}}})
schema = schemathesis.openapi.from_dict(_SCHEMA_APP.openapi(), config=_CONFIG)
schema.app = _SCHEMA_APP


def call_and_validate(case: Any, app: FastAPI, headers: dict[str, str] | None = None) -> Any:
    """Send the case to ``app``, run the checks, and check its status is documented."""
    response = case.call(app=app, headers=headers)
    excluded = list(EXCLUDED)
    if case.operation.path == "/v1/ingest/text" and isinstance(case.body, NotSet):
        # Known and harmless: a POST with no body at all ingests nothing (200, received 0), though the
        # schema declares the text body required. Reported, not fixed here (not a 5xx).
        excluded.append(negative_data_rejection)
    case.validate_response(
        response, checks=CHECKS, excluded_checks=excluded, headers=headers, transport_kwargs={"app": app}
    )
    documented_status(case, response.status_code)
    return response


@schema.parametrize()
@FUZZ_SETTINGS
def test_no_generated_request_gets_a_5xx_and_answers_match_the_schema(case: Any, open_app: FastAPI) -> None:
    call_and_validate(case, open_app)


@schema.parametrize()
@KEYED_SETTINGS
def test_with_an_api_key_no_5xx_and_no_way_in_without_the_key(case: Any, keyed_app: FastAPI) -> None:
    response = call_and_validate(case, keyed_app, headers={"X-API-Key": API_KEY})
    for name, headers in (("no key", {}), ("wrong bearer", {"Authorization": f"Bearer {API_KEY}x"})):
        refused = case.call(app=keyed_app, headers=headers)
        assert refused.status_code < 500, (name, case.operation.label, refused.status_code, refused.text)
        if case.operation.path in PUBLIC or case.method.upper() != case.operation.method.upper():
            continue  # public, or no route at all (404/405): nothing behind it to protect
        assert not 200 <= refused.status_code < 300, (name, case.operation.label, refused.text)
        if refused.status_code in {401, 413}:
            continue
        # The one way past 401 without a key: a body FastAPI cannot parse as JSON at all (a syntax error, or not
        # UTF-8: 422 json_invalid either way) is refused before any dependency runs, the key check included. It
        # reaches no route and tells nothing but "not JSON".
        assert refused.status_code == response.status_code == 422, (
            name, case.operation.label, refused.status_code, response.status_code, refused.text
        )
        assert {e["type"] for e in refused.json()["detail"]} == {"json_invalid"}, (name, refused.text)


# Hostile JSON and query values, as raw text: what a JSON encoder never writes but a client may send.
# schemathesis generates valid JSON of the wrong shape; these are the tokens that used to give 500s
# (NaN/Infinity literals, lone surrogate escapes, integers past 64 bits) mixed into every body field.
HOSTILE_JSON = [
    "NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "-0",
    str(2**63), str(2**64), "9" * 40, str(-(2**63) - 1), "2147483648", "-2",
    '"\\ud800"', '"x \\udfff"', '"\\udc80\\ud800 vm-1 k1"', '"\\u0000"', '"vm-1 k1"', '""', '"[red]x[/red]"',
    "null", "true", "[]", "{}", "[1,2,3]",
    "1" * 5000, "[" * 5000 + "]" * 5000,  # past int()'s 4300 digits; past the JSON parser's recursion limit
]  # fmt: skip
HOSTILE_QUERY = [
    "NaN", "nan", "inf", "-Infinity", "1e999", "-1", "0", str(2**63), str(2**64), "9" * 40, "1.5",
    "%ED%A0%80", "%FF%FE", "%00", "%F0%9F%92%A9", "", "open", "closed", "acknowledged",
]  # fmt: skip
FIELDS = ["lines", "line", "source", "sequences", "keys", "session_id", "explain", "only_anomalies", "note", "x"]
JSON_ROUTES = ["/v1/ingest", "/v1/score", "/v1/incidents/vm-1/acknowledge", "/v1/incidents/vm-1/mark-normal"]
QUERY_ROUTES = {
    "/v1/alerts": ["session_id", "min_score", "since", "until", "after_id", "limit", "offset"],
    "/v1/incidents": ["status", "limit", "offset"],
    "/v1/sessions": ["limit", "state"],
    "/v1/scores": ["limit"],
    "/v1/ingest/text": ["source"],
}
CONTENT_TYPES = [
    "application/json", "application/json; charset=latin-1", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data", "multipart/form-data; boundary=x", "application/xml", "*/*", "",
]  # fmt: skip


def _json_text() -> st.SearchStrategy[str]:
    atoms = st.sampled_from(HOSTILE_JSON) | st.integers().map(str)

    def nest(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        arrays = st.lists(children, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]")
        objects = st.dictionaries(st.sampled_from(FIELDS), children, max_size=4).map(
            lambda d: "{" + ",".join(f'"{k}":{v}' for k, v in d.items()) + "}"
        )
        return arrays | objects

    body = st.dictionaries(st.sampled_from(FIELDS), st.recursive(atoms, nest, max_leaves=8), max_size=4)
    return body.map(lambda d: "{" + ",".join(f'"{k}":{v}' for k, v in d.items()) + "}")


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(_app(tmp_path_factory.mktemp("fuzz-hostile"))) as client:
        client.post("/v1/ingest", json={"lines": ["vm-1 k0", "vm-1 k42"]})  # one session with an alert
        client.post("/v1/sessions/close-all")
        yield client


def _refused_cleanly(r: Any, what: str) -> None:
    assert r.status_code < 500, (what, r.status_code, r.text[:500])
    if r.status_code >= 400:
        body = r.json()  # always JSON, and never the offending input echoed back
        assert "detail" in body, (what, r.text[:500])
        if r.status_code == 422 and isinstance(body["detail"], list):
            assert all("input" not in err for err in body["detail"]), (what, r.text[:500])


@HOSTILE_SETTINGS
@given(route=st.sampled_from(JSON_ROUTES), body=_json_text(), content_type=st.sampled_from(CONTENT_TYPES))
def test_hostile_json_tokens_and_content_types_never_get_a_5xx(
    hostile_client: TestClient, route: str, body: str, content_type: str
) -> None:
    r = hostile_client.post(route, content=body.encode(), headers={"content-type": content_type})
    _refused_cleanly(r, f"POST {route} {content_type!r} {body[:300]}")


@HOSTILE_SETTINGS
@given(route=st.sampled_from(sorted(QUERY_ROUTES)), data=st.data())
def test_hostile_query_values_never_get_a_5xx(hostile_client: TestClient, route: str, data: st.DataObject) -> None:
    names = data.draw(st.lists(st.sampled_from(QUERY_ROUTES[route]), min_size=1, max_size=3, unique=True))
    query = "&".join(f"{name}={data.draw(st.sampled_from(HOSTILE_QUERY))}" for name in names)
    method = "POST" if route == "/v1/ingest/text" else "GET"
    r = hostile_client.request(method, f"{route}?{query}", content=b"vm-9 k1\n" if method == "POST" else None)
    _refused_cleanly(r, f"{method} {route}?{query}")


@HOSTILE_SETTINGS
@given(
    template=st.sampled_from(
        ["/v1/alerts/{}", "/v1/sessions/{}", "/v1/sessions/{}/close", "/v1/incidents/{}/acknowledge"]
    ),
    value=st.sampled_from(HOSTILE_QUERY + ["%2F", "..", "%2E%2E", "a" * 300]),
)
def test_hostile_path_ids_never_get_a_5xx(hostile_client: TestClient, template: str, value: str) -> None:
    path = template.format(value)
    r = hostile_client.request("GET" if template.count("/") == 3 else "POST", path)
    _refused_cleanly(r, path)
