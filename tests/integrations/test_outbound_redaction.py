"""Canary secrets must never survive any redact_* function, in any usual encoding."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus, urlencode

import pytest

from integrations.outbound import (
    MARKER,
    Allowlist,
    OutboundPolicy,
    OutboundRequest,
    UpstreamHttpError,
    redact_body,
    redact_exchange,
    redact_headers,
    redact_text,
    redact_url,
    send,
)
from tests.integrations.outbound_servers import HostileServer, respond

CLIENT_ID = "portal-client-id"
CLIENT_SECRET = "canary-Cl1ent/Secret+=&?"  # characters that change under every encoding
PASSWORD = "canary pass:word@92"
ACCESS_TOKEN = "canaryAccessToken5521xyz"
API_KEY = "canary-api-key-3bd1"
CUSTOMER_JWT = (
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnktY3VzdG9tZXIifQ.c2lnbmF0dXJlLWNhbmFyeS0xMjM0NTY"
)
SECRETS = (CLIENT_SECRET, PASSWORD, ACCESS_TOKEN, API_KEY)
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()


def basic_of(user: str, secret: str) -> str:
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


def assert_no_canary(text: str) -> None:
    for secret in (*SECRETS, CUSTOMER_JWT, BASIC):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            assert form not in text, f"{form!r} leaked"
    assert "canary" not in text.lower()


def test_credential_headers_keep_only_their_scheme_word():
    headers = {
        "Authorization": f"Bearer {ACCESS_TOKEN}",
        "customer-auth": f"JWT {CUSTOMER_JWT}",
        "api-key": API_KEY,
        "X-Api-Key": API_KEY,
        "Proxy-Authorization": f"Basic {BASIC}",
        "Content-Type": "application/json",
    }
    redacted = redact_headers(headers, secrets=SECRETS)
    assert redacted == {
        "Authorization": f"Bearer {MARKER}",
        "customer-auth": f"JWT {MARKER}",
        "api-key": MARKER,
        "X-Api-Key": MARKER,
        "Proxy-Authorization": f"Basic {MARKER}",
        "Content-Type": "application/json",
    }


def test_cookie_headers_keep_cookie_names_and_attributes_only():
    pairs = [
        ("Cookie", "session=canary-session-1; theme=canary-theme"),
        ("Set-Cookie", "session=canary-session-2; Path=/; HttpOnly; Secure"),
    ]
    assert redact_headers(pairs) == [
        ("Cookie", f"session={MARKER}; theme={MARKER}"),
        ("Set-Cookie", f"session={MARKER}; Path=/; HttpOnly; Secure"),
    ]


def test_configured_sensitive_headers_are_hidden_and_others_scrubbed_by_value():
    headers = {"X-Tenant-Secret": "canary-tenant", "X-Echo": f"token was {ACCESS_TOKEN}"}
    redacted = redact_headers(headers, secrets=SECRETS, sensitive={"x-tenant-secret"})
    assert redacted == {"X-Tenant-Secret": MARKER, "X-Echo": f"token was {MARKER}"}


def test_json_bodies_are_redacted_by_key_at_any_depth_and_any_case():
    body = {
        "token_type": "Bearer",
        "Access_Token": ACCESS_TOKEN,
        "refresh-token": "canary-refresh",
        "JWT": CUSTOMER_JWT,
        "expires_in": "28799",
        "nested": [{"Password": PASSWORD}, {"client_secret": CLIENT_SECRET, "keep": 1}],
        "profile": {"session": {"id": "canary-session"}, "apiKey": "canary-nested-key"},
        "note": f"echo {API_KEY}",
        "customer_id": CUSTOMER_JWT,
    }
    redacted = json.loads(
        redact_body(json.dumps(body).encode(), "application/json", secrets=SECRETS)
    )
    assert_no_canary(json.dumps(redacted))
    assert redacted["token_type"] == "Bearer"
    assert redacted["expires_in"] == "28799"
    assert redacted["nested"][1]["keep"] == 1
    assert redacted["Access_Token"] == MARKER


def test_unparseable_json_body_is_still_scrubbed_by_value():
    body = f'{{"access_token": "{ACCESS_TOKEN}", broken'
    assert_no_canary(redact_body(body, "application/json", secrets=SECRETS))


def test_form_bodies_hide_sensitive_fields_and_encoded_secrets():
    body = urlencode(
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    redacted = redact_body(body.encode(), "application/x-www-form-urlencoded; charset=utf-8")
    assert redacted == f"grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={MARKER}"
    login = urlencode({"username": "test-user", "password": PASSWORD, "remark": PASSWORD})
    assert_no_canary(redact_body(login, "application/x-www-form-urlencoded", secrets=SECRETS))


def test_urls_lose_userinfo_sensitive_query_values_and_fragment_tokens():
    url = (
        f"https://{CLIENT_ID}:{quote(CLIENT_SECRET, safe='')}@api.customer.example/oauth"
        f"?grant_type=client_credentials&api_key={API_KEY}&x={quote(PASSWORD)}"
        f"#access_token={ACCESS_TOKEN}"
    )
    redacted = redact_url(url, secrets=SECRETS)
    assert_no_canary(redacted)
    assert redacted.startswith(f"https://{MARKER}@api.customer.example/oauth?grant_type=")


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: f"curl -H 'Authorization: Basic {basic_of(CLIENT_ID, s)}'",
        lambda s: f"x={base64.b64encode(f'ab:{s}'.encode()).decode()}",
        lambda s: base64.urlsafe_b64encode(f"{s}!".encode()).decode().rstrip("="),
        lambda s: f"redirect=/cb?code={quote(s, safe='')}",
        lambda s: f"form a={quote_plus(s)}&b=1",
        lambda s: json.dumps({"note": s}),
        lambda s: f"plain {s} text",
    ],
)
@pytest.mark.parametrize("secret", SECRETS)
def test_known_secrets_are_hidden_in_text_in_every_usual_encoding(wrap, secret):
    text = wrap(secret)
    assert secret not in redact_text(text, secrets=SECRETS)
    assert_no_canary(redact_text(text, secrets=SECRETS))


def test_longer_secrets_are_replaced_before_shorter_ones_they_contain():
    assert redact_text("abc-123-xyz", secrets=["abc", "abc-123-xyz"]) == MARKER


def test_jwt_shaped_values_are_hidden_even_when_not_declared():
    assert redact_text(f"user {CUSTOMER_JWT} logged in") == f"user {MARKER} logged in"


def test_scheme_tokens_in_free_text_are_hidden_but_prose_survives():
    text = "curl -H 'Authorization: Bearer abc123def456' # Basic authentication failed"
    assert redact_text(text) == (
        f"curl -H 'Authorization: Bearer {MARKER}' # Basic authentication failed"
    )


def test_binary_bodies_are_summarised_not_shown():
    assert redact_body(b"\xff\xfe" + ACCESS_TOKEN.encode(), "application/octet-stream") == (
        "[binary body, 26 bytes]"
    )


def leaky_token_endpoint(conn, request, server):
    body = json.dumps(
        {"access_token": ACCESS_TOKEN, "echo_auth": request.header("Authorization")}
    ).encode()
    return respond(
        conn,
        401,
        body,
        Content_Type="application/json",
        Set_Cookie=f"sid={ACCESS_TOKEN}; Path=/",
    )


def test_a_whole_exchange_redacts_to_json_without_any_canary():
    server = HostileServer(leaky_token_endpoint)
    try:
        request = OutboundRequest(
            "POST",
            server.url(f"/oauth/access_token?grant_type=client_credentials&apikey={API_KEY}"),
            headers={
                "Authorization": f"Basic {BASIC}",
                "customer-auth": f"JWT {CUSTOMER_JWT}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            body=urlencode({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}).encode(),
        )
        policy = OutboundPolicy(allowlist=Allowlist.from_entries([server.hostport]))
        with pytest.raises(UpstreamHttpError) as caught:
            send(request, policy=policy)
    finally:
        server.close()
    exchange = caught.value.exchange
    assert exchange is not None
    stored = json.dumps(redact_exchange(exchange, secrets=SECRETS))
    assert_no_canary(stored)
    assert_no_canary(json.dumps(exchange.redacted(secrets=SECRETS)))
    assert CLIENT_ID in stored  # non-secret fields survive for debugging
    assert '"status": 401' in stored
