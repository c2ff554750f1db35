"""The /_sandbox control routes: knobs over HTTP, reset, and exact request counters."""

import threading

import pytest
import requests

from sandbox import RunningSandbox
from sandbox.faults import KnobError
from tests.helpers import WAIT_CEILING_S, thread_join
from tests.sandbox.helpers import TIMEOUT, get_profile, log_in, request_token


def post_faults(sandbox: RunningSandbox, knobs: object) -> requests.Response:
    return requests.post(f"{sandbox.url}/_sandbox/faults", json=knobs, timeout=TIMEOUT)


def stats(sandbox: RunningSandbox) -> dict[str, int]:
    return dict(requests.get(f"{sandbox.url}/_sandbox/stats", timeout=TIMEOUT).json())


def test_stats_count_requests_per_route(sandbox: RunningSandbox) -> None:
    request_token(sandbox.url)
    request_token(sandbox.url, client_secret="wrong")
    log_in(sandbox.url, "alice", "alice-password")
    get_profile(sandbox.url, {})

    assert stats(sandbox) == {
        "authenticate_requests": 1,
        "token_requests": 2,
        "profile_requests": 1,
    }
    assert sandbox.stats() == stats(sandbox)


def test_the_token_counter_is_exact_under_50_concurrent_requests(sandbox: RunningSandbox) -> None:
    start = threading.Barrier(50, timeout=WAIT_CEILING_S)
    statuses: list[int] = []

    def fetch() -> None:
        start.wait()
        statuses.append(request_token(sandbox.url).status_code)

    threads = [threading.Thread(target=fetch, daemon=True) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread_join(thread, what="a token request", timeout_s=WAIT_CEILING_S + TIMEOUT)

    assert statuses == [200] * 50
    assert stats(sandbox)["token_requests"] == 50


def test_reset_clears_the_counters(sandbox: RunningSandbox) -> None:
    request_token(sandbox.url)

    response = requests.post(f"{sandbox.url}/_sandbox/reset", timeout=TIMEOUT)

    assert response.status_code == 200
    assert stats(sandbox) == {
        "authenticate_requests": 0,
        "token_requests": 0,
        "profile_requests": 0,
    }


def test_posting_faults_merges_knobs_and_returns_them_all(sandbox: RunningSandbox) -> None:
    post_faults(sandbox, {"latency_ms": 5})
    response = post_faults(sandbox, {"reject": ["api_key"]})

    assert response.status_code == 200
    faults = response.json()["faults"]
    assert faults["latency_ms"] == 5
    assert faults["reject"] == ["api_key"]
    assert faults["error_status"] == 503


def test_an_unknown_knob_is_refused_by_name(sandbox: RunningSandbox) -> None:
    response = post_faults(sandbox, {"latency_ms": 5, "explode": True})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_knob"
    assert "explode" in response.json()["error_description"]
    assert (
        requests.get(f"{sandbox.url}/_sandbox/faults", timeout=TIMEOUT).json()["faults"][
            "latency_ms"
        ]
        == 0
    )  # nothing changed


@pytest.mark.parametrize(
    "knobs",
    [
        {"error_rate": 2},
        {"error_status": 200},
        {"latency_ms": -1},
        {"malformed_json": "yes"},
        {"token_response_style": "xml"},
        {"auth_mode": "magic"},
        {"reject": ["password"]},
        {"redirect_to": "ftp://example.com"},
        {"status_429_retry_after": 0},
    ],
)
def test_a_bad_knob_value_is_refused_by_name(sandbox: RunningSandbox, knobs: dict) -> None:
    response = post_faults(sandbox, knobs)

    assert response.status_code == 400
    assert next(iter(knobs)) in response.json()["error_description"]


def test_the_faults_body_must_be_a_json_object(sandbox: RunningSandbox) -> None:
    assert post_faults(sandbox, ["latency_ms"]).status_code == 400


def test_the_faults_route_documents_every_knob(sandbox: RunningSandbox) -> None:
    body = requests.get(f"{sandbox.url}/_sandbox/faults", timeout=TIMEOUT).json()

    assert set(body["knobs"]) == set(body["faults"])
    assert "endless_body" in body["knobs"]


def test_set_faults_in_process_refuses_unknown_knobs(sandbox: RunningSandbox) -> None:
    with pytest.raises(KnobError, match="explode"):
        sandbox.set_faults(explode=True)
