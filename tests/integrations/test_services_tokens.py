"""Token broker against the sandbox: fetch, cache, refresh margin, errors, single flight."""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, connections

from integrations import clock
from integrations.choices import ClientAuthStyle, CustomerAuthMode, RefreshOutcome
from integrations.errors import TokenResponseError
from integrations.models import AccessToken, Endpoint, UserSession
from integrations.services.token_parsing import compute_expiry, refresh_due_at
from integrations.services.tokens import (
    AuthStepFailed,
    access_token_get,
    memo_clear,
    user_session_get,
)
from tests.helpers import WAIT_CEILING_S, process_stop, thread_join, threads_together, wait_until

pytestmark = pytest.mark.django_db


def fixed_clock(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


def test_it_fetches_an_access_token_the_guides_way_and_caches_it(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    first = access_token_get(oauth_client=demo_endpoint.oauth_client)
    second = access_token_get(oauth_client=demo_endpoint.oauth_client)
    assert first.step.outcome == "fetched" and second.step.outcome == "cache_hit"
    assert first.value == second.value
    assert sandbox.stats()["token_requests"] == 1
    row = AccessToken.objects.get(pk=demo_endpoint.oauth_client.pk)
    assert row.token_type == "Bearer" and row.last_outcome == RefreshOutcome.OK
    assert abs((row.expires_at - row.issued_at).total_seconds() - 28799) < 1


def test_it_accepts_rfc_style_integer_expires_in_without_issued_at(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(token_response_style="rfc", token_lifetime_s=600)
    issued = access_token_get(oauth_client=demo_endpoint.oauth_client)
    assert 590 < (issued.expires_at - clock.now()).total_seconds() <= 600


def test_http_basic_client_authentication_gets_a_token(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    client = demo_endpoint.oauth_client
    client.auth_style = ClientAuthStyle.HTTP_BASIC
    client.save()
    assert access_token_get(oauth_client=client).step.outcome == "fetched"


def test_a_test_user_gets_a_jwt_whose_subject_is_opaque(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    import jwt

    session = user_session_get(test_user=demo_endpoint.default_test_user)
    claims = jwt.decode(session.value, options={"verify_signature": False})
    assert claims["sub"] and "alice" not in claims["sub"]
    assert UserSession.objects.get(pk=demo_endpoint.default_test_user.pk).kind == "jwt"


def test_cookie_mode_keeps_the_session_cookie(demo_endpoint: Endpoint, sandbox: Any) -> None:
    sandbox.set_faults(auth_mode="cookie")
    auth = demo_endpoint.customer_auth
    auth.mode = CustomerAuthMode.COOKIE
    auth.save()
    session = user_session_get(test_user=demo_endpoint.default_test_user)
    assert session.cookie_name == "session" and session.value
    assert UserSession.objects.get(pk=demo_endpoint.default_test_user.pk).kind == "cookie"


def test_a_wrong_client_secret_is_recorded_and_not_retried(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    client = demo_endpoint.oauth_client
    client.client_secret = "wrong-secret"
    client.save()
    with pytest.raises(AuthStepFailed) as failure:
        access_token_get(oauth_client=client)
    assert failure.value.code == "invalid_client"
    assert sandbox.stats()["token_requests"] == 1
    row = AccessToken.objects.get(pk=client.pk)
    assert row.last_outcome == RefreshOutcome.FAILED and row.last_error_code == "invalid_client"
    assert "invalid_client" in row.last_error_message and row.last_error_at is not None
    assert row.consecutive_failures == 1


def test_a_wrong_test_user_password_is_a_typed_error(demo_endpoint: Endpoint, sandbox: Any) -> None:
    user = demo_endpoint.default_test_user
    user.password = "not-alices-password"
    user.save()
    with pytest.raises(AuthStepFailed) as failure:
        user_session_get(test_user=user)
    assert failure.value.step.name == "customer_auth"
    assert failure.value.code == "invalid_credentials"


def test_the_token_is_served_until_the_refresh_point_then_refetched(
    demo_endpoint: Endpoint, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = demo_endpoint.oauth_client
    first = access_token_get(oauth_client=client)
    row = AccessToken.objects.get(pk=client.pk)
    due = refresh_due_at(issued_at=row.issued_at, expires_at=row.expires_at)
    assert due == row.expires_at - timedelta(seconds=60)  # 8 h token: 60 s margin wins
    fixed_clock(monkeypatch, due - timedelta(seconds=1))
    assert access_token_get(oauth_client=client).value == first.value
    fixed_clock(monkeypatch, due + timedelta(seconds=1))
    refreshed = access_token_get(oauth_client=client)
    assert refreshed.step.outcome == "fetched" and refreshed.value != first.value
    assert sandbox.stats()["token_requests"] == 2


def test_a_failing_refresh_serves_the_old_token_only_until_expiry(
    demo_endpoint: Endpoint, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = demo_endpoint.oauth_client
    first = access_token_get(oauth_client=client)
    row = AccessToken.objects.get(pk=client.pk)
    sandbox.set_faults(reject=["client"])
    fixed_clock(monkeypatch, row.expires_at - timedelta(seconds=30))
    stale = access_token_get(oauth_client=client)
    assert stale.value == first.value and stale.step.outcome == "stale"
    fixed_clock(monkeypatch, row.expires_at + timedelta(seconds=1))
    with pytest.raises(AuthStepFailed):
        access_token_get(oauth_client=client)


def test_short_lived_tokens_refresh_at_eighty_percent_of_their_lifetime() -> None:
    issued = datetime(2026, 1, 1, tzinfo=UTC)
    due = refresh_due_at(issued_at=issued, expires_at=issued + timedelta(seconds=100))
    assert due == issued + timedelta(seconds=80)


@pytest.mark.parametrize(
    ("payload", "lifetime"),
    [
        ({"expires_in": "28799", "issued_at": "NOW_MS"}, 28799),
        ({"expires_in": 3600}, 3600),
        ({"expires_in": "120"}, 120),
        ({}, 300),
    ],
)
def test_expiry_parses_the_guides_strings_and_rfc_integers(
    payload: dict[str, Any], lifetime: int
) -> None:
    sent = clock.now()
    if payload.get("issued_at") == "NOW_MS":
        payload["issued_at"] = str(int(sent.timestamp() * 1000))
    expiry = compute_expiry(
        payload,
        expires_in_field="expires_in",
        issued_at_field="issued_at",
        sent_at=sent,
        received_at=sent + timedelta(milliseconds=50),
    )
    assert abs(expiry.lifetime.total_seconds() - lifetime) < 1
    assert bool(expiry.warnings) == ("expires_in" not in payload)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"expires_in": "soon"}, "invalid_expires_in"),
        ({"expires_in": "-5"}, "invalid_expires_in"),
        ({"expires_in": True}, "invalid_expires_in"),
        ({"expires_in": "60", "issued_at": "yesterday"}, "invalid_issued_at"),
    ],
)
def test_garbled_expiry_fields_are_typed_errors(payload: dict[str, Any], code: str) -> None:
    now = clock.now()
    with pytest.raises(TokenResponseError) as error:
        compute_expiry(
            payload,
            expires_in_field="expires_in",
            issued_at_field="issued_at",
            sent_at=now,
            received_at=now,
        )
    assert error.value.code == code


def test_an_issued_at_from_a_clock_running_ahead_is_not_trusted() -> None:
    now = clock.now()
    ahead = str(int((now + timedelta(hours=2)).timestamp() * 1000))
    expiry = compute_expiry(
        {"expires_in": "60", "issued_at": ahead},
        expires_in_field="expires_in",
        issued_at_field="issued_at",
        sent_at=now,
        received_at=now,
    )
    assert expiry.expires_at == now + timedelta(seconds=60)
    assert "ahead" in expiry.warnings[0]


def test_a_response_missing_the_token_field_names_the_field(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    client = demo_endpoint.oauth_client
    client.access_token_field = "token"
    client.save()
    with pytest.raises(AuthStepFailed) as failure:
        access_token_get(oauth_client=client)
    assert failure.value.code == "missing_field" and "'token'" in failure.value.message


# --- single flight --------------------------------------------------------------

# 3 x 10 callers: enough to race, and far below the database's connection limit, which
# the runner shares with everything else on the machine (100 callers exhausted it).
CALLERS = 10


def _hammer(client_pk: int, callers: int, start: Any) -> list[str]:
    """Run ``callers`` threads that all ask for the token at once."""
    from integrations.models import OAuthClient

    if not start.wait(WAIT_CEILING_S):
        raise TimeoutError("the test never said start")
    return threads_together(
        callers,
        lambda client: access_token_get(oauth_client=client).value,
        prepare=lambda: OAuthClient.objects.select_related("environment").get(pk=client_pk),
        what="a token caller",
    )


def _process_main(client_pk: int, callers: int, start: Any, results: Any) -> None:
    try:
        results.put(("ok", _hammer(client_pk, callers, start)))
    except BaseException as error:
        results.put(("error", repr(error)))


def _collect(results: Any, count: int, *, what: str) -> list[Any]:
    """``count`` items from a queue, polled up to the shared ceiling."""
    collected: list[Any] = []

    def all_arrived() -> bool:
        with contextlib.suppress(queue.Empty):
            collected.append(results.get(timeout=0.5))
        return len(collected) == count

    wait_until(all_arrived, what=what)
    return collected


@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_in_threads_and_processes_share_one_token_fetch(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("several processes need a shared server database (PostgreSQL)")
    client = demo_endpoint.oauth_client
    access_token_get(oauth_client=client)
    AccessToken.objects.filter(pk=client.pk).update(
        expires_at=clock.now() - timedelta(seconds=1)
    )  # expired: every caller must refresh
    memo_clear()
    before = sandbox.stats()["token_requests"]

    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    connections.close_all()
    processes = [
        ctx.Process(target=_process_main, args=(client.pk, CALLERS, start, results), daemon=True)
        for _ in range(2)
    ]
    local = threading.Thread(
        target=_process_main, args=(client.pk, CALLERS, start, results), daemon=True
    )
    try:
        for process in processes:
            process.start()
        local.start()
        start.set()
        outcomes = _collect(results, 3, what="the results of 2 processes and 1 thread")
    finally:
        start.set()  # a caller still waiting to start gives up at once
        for process in processes:
            process_stop(process)
        if local.is_alive():
            thread_join(local, what="the in-process callers", timeout_s=3 * WAIT_CEILING_S)

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    values = [value for _, batch in outcomes for value in batch]
    assert len(values) == 3 * CALLERS
    assert len(set(values)) == 1
    assert sandbox.stats()["token_requests"] - before == 1
