"""The outbound transport against real sockets: pinning, pooling, deadlines, caps, failures."""

from __future__ import annotations

import datetime
import logging
import socket
import threading
import time

import pytest

from integrations.outbound import (
    Allowlist,
    ConnectFailure,
    ConnectionReset,
    DnsFailure,
    ErrorClass,
    InvalidRequest,
    MalformedResponse,
    OutboundError,
    OutboundPolicy,
    OutboundRequest,
    TlsFailure,
    UpstreamHttpError,
    UpstreamTimeout,
    UpstreamTooLarge,
    classify_error,
    send,
    session_for_thread,
    static_resolver,
)
from integrations.outbound.transport import CHUNK_BYTES
from tests.integrations.outbound_servers import (
    HostileServer,
    bad_gzip,
    body_of,
    conflicting_lengths,
    endless_body,
    garbled_header,
    gzip_bomb,
    html_bad_gateway,
    make_tls,
    malformed_json,
    negative_length,
    non_http_banner,
    ok_json,
    rate_limited,
    recording_connects,
    reset_before_response,
    reset_mid_body,
    serving,
    slow_drip,
    slow_headers,
    unavailable_until,
)

MIB = 1024 * 1024
SLACK_S = 0.5  # scheduling noise allowed past a deadline on a busy CI machine


def policy_for(*servers: HostileServer, names: dict[str, list[str]] | None = None, **limits):
    """Allow-list exactly these servers; ``names`` maps public-looking names to their IPs."""
    return OutboundPolicy(
        allowlist=Allowlist.from_entries(server.hostport for server in servers),
        resolver=static_resolver(names or {}),
        **{"connect_timeout_s": 1.0, "deadline_s": 2.0, **limits},
    )


@pytest.fixture
def healthy():
    server = HostileServer(ok_json)
    yield server
    server.close()


def assert_still_healthy(server: HostileServer) -> None:
    exchange = send(OutboundRequest("GET", server.url("/health")), policy=policy_for(server))
    assert exchange.json() == {"ok": True}


def test_public_looking_name_connects_to_the_pinned_ip_and_sends_its_host_header(healthy):
    policy = policy_for(healthy, names={"api.customer.example": ["127.0.0.1"]})
    url = healthy.url("/account/getprofile", host="api.customer.example")
    with recording_connects() as attempts:
        exchange = send(OutboundRequest("GET", url), policy=policy)
    assert attempts == [("127.0.0.1", healthy.port)]
    assert healthy.requests[-1].header("Host") == f"api.customer.example:{healthy.port}"
    assert exchange.peer_ip == "127.0.0.1"
    assert exchange.request.url == f"http://api.customer.example:{healthy.port}/account/getprofile"


def test_a_second_dns_answer_cannot_move_the_connection(healthy):
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])

    def rebinding_resolver(host, port, *args, **kwargs):
        return static_resolver({host: next(answers)})(host, port)

    policy = OutboundPolicy(
        allowlist=Allowlist.from_entries([healthy.hostport]), resolver=rebinding_resolver
    )
    exchange = send(OutboundRequest("GET", healthy.url(host="rebind.example")), policy=policy)
    assert exchange.status == 200
    assert next(answers) == ["169.254.169.254"]  # the second answer was never asked for


def test_sequential_calls_to_one_server_reuse_one_tcp_connection(healthy):
    for _ in range(3):
        send(OutboundRequest("GET", healthy.url("/ping")), policy=policy_for(healthy))
    assert healthy.accepted == 1
    assert len(healthy.requests) == 3


def test_two_hosts_on_one_ip_never_share_a_pooled_connection(healthy):
    names = {"a.customer.example": ["127.0.0.1"], "b.customer.example": ["127.0.0.1"]}
    policy = policy_for(healthy, names=names)
    for host in ("a.customer.example", "b.customer.example", "a.customer.example"):
        send(OutboundRequest("GET", healthy.url(host=host)), policy=policy)
    assert healthy.accepted == 2


def test_each_thread_has_its_own_session():
    seen = []
    thread = threading.Thread(target=lambda: seen.append(session_for_thread()))
    thread.start()
    thread.join()
    assert session_for_thread() is session_for_thread()
    assert seen[0] is not session_for_thread()


def test_json_body_is_sent_with_its_content_type_and_recorded_as_sent(healthy):
    request = OutboundRequest(
        "post", healthy.url("/account/getprofile"), headers={"api-key": "k"}, json={"a": 1}
    )
    exchange = send(request, policy=policy_for(healthy))
    received = healthy.requests[-1]
    assert (received.method, received.body) == ("POST", b'{"a":1}')
    assert received.header("Content-Type") == "application/json"
    assert exchange.request.body == b'{"a":1}'
    assert ("api-key", "k") in exchange.request.headers
    assert exchange.elapsed_ms >= exchange.ttfb_ms > 0


def test_slow_drip_body_fails_at_the_deadline_not_per_read(healthy):
    with serving(slow_drip(interval=0.05, size=400)) as server:
        policy = policy_for(server, deadline_s=0.6)
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout) as caught:
            send(OutboundRequest("GET", server.url()), policy=policy)
        assert time.monotonic() - started < 0.6 + SLACK_S
        assert caught.value.phase == "deadline"
        assert classify_error(caught.value) is ErrorClass.TIMEOUT
        assert server.wait_until_disconnected()
    assert_still_healthy(healthy)


def test_slow_drip_headers_fail_at_the_deadline(healthy):
    with serving(slow_headers(interval=0.05)) as server:
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            send(OutboundRequest("GET", server.url()), policy=policy_for(server, deadline_s=0.5))
        assert time.monotonic() - started < 0.5 + SLACK_S
    assert_still_healthy(healthy)


def test_unaccepted_connection_is_a_connect_timeout(healthy):
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    # Fill the accept queue so the kernel drops our SYNs and connect() hangs.
    fillers = [socket.socket() for _ in range(3)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
    try:
        policy = OutboundPolicy(
            allowlist=Allowlist.from_entries([f"127.0.0.1:{port}"]), connect_timeout_s=0.3
        )
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout) as caught:
            send(OutboundRequest("GET", f"http://127.0.0.1:{port}/"), policy=policy)
        assert time.monotonic() - started < 0.3 + SLACK_S
        assert caught.value.phase == "connect"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
    assert_still_healthy(healthy)


def test_refused_connection_is_a_connect_failure():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    policy = OutboundPolicy(allowlist=Allowlist.from_entries([f"127.0.0.1:{port}"]))
    with pytest.raises(ConnectFailure, match="refused") as caught:
        send(OutboundRequest("GET", f"http://127.0.0.1:{port}/"), policy=policy)
    assert classify_error(caught.value) is ErrorClass.CONNECT


def test_unknown_name_is_a_dns_failure_classed_dns():
    with pytest.raises(DnsFailure) as caught:
        send(
            OutboundRequest("GET", "https://nowhere.example/"),
            policy=OutboundPolicy(resolver=static_resolver({})),
        )
    assert classify_error(caught.value) is ErrorClass.DNS


@pytest.mark.parametrize("handler", [reset_before_response, reset_mid_body])
def test_reset_connection_is_a_typed_error_and_the_next_call_works(healthy, handler):
    with serving(handler) as server:
        started = time.monotonic()
        with pytest.raises(ConnectionReset) as caught:
            send(OutboundRequest("GET", server.url()), policy=policy_for(server))
        assert time.monotonic() - started < 2.0 + SLACK_S
        assert classify_error(caught.value) is ErrorClass.CONNECT
    assert_still_healthy(healthy)


def test_html_error_page_is_an_http_5xx_error_that_names_the_html(healthy):
    with serving(html_bad_gateway) as server:
        with pytest.raises(UpstreamHttpError) as caught:
            send(OutboundRequest("GET", server.url("/account")), policy=policy_for(server))
    error = caught.value
    assert (error.status, classify_error(error)) == (502, ErrorClass.HTTP_5XX)
    assert "HTML page" in error.message
    assert error.exchange is not None and error.exchange.body.startswith(b"<!DOCTYPE html>")
    assert_still_healthy(healthy)


def test_rate_limit_carries_retry_after_seconds():
    with serving(rate_limited) as server:
        with pytest.raises(UpstreamHttpError) as caught:
            send(OutboundRequest("GET", server.url()), policy=policy_for(server))
    assert (caught.value.status, caught.value.retry_after) == (429, 7.0)
    assert classify_error(caught.value) is ErrorClass.HTTP_4XX


def test_unavailable_with_an_http_date_retry_after_is_converted_to_seconds():
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=120)
    with serving(unavailable_until(moment)) as server:
        with pytest.raises(UpstreamHttpError) as caught:
            send(OutboundRequest("GET", server.url()), policy=policy_for(server))
    assert caught.value.status == 503
    assert 100 < caught.value.retry_after <= 120


def test_error_statuses_are_returned_when_the_caller_asks_for_them():
    with serving(rate_limited) as server:
        request = OutboundRequest("GET", server.url(), raise_for_status=False)
        exchange = send(request, policy=policy_for(server))
    assert (exchange.status, exchange.ok) == (429, False)


def test_malformed_json_raises_malformed_response_through_the_helper(healthy):
    with serving(malformed_json) as server:
        exchange = send(OutboundRequest("GET", server.url("/token")), policy=policy_for(server))
    with pytest.raises(MalformedResponse) as caught:
        exchange.json()
    assert classify_error(caught.value) is ErrorClass.MALFORMED
    assert "does not parse at byte" in caught.value.message
    assert caught.value.exchange is exchange
    assert_still_healthy(healthy)


def test_body_over_the_cap_stops_reading_near_the_cap():
    with serving(body_of(5 * MIB, declare_length=False)) as server:
        with pytest.raises(UpstreamTooLarge) as caught:
            send(
                OutboundRequest("GET", server.url()),
                policy=policy_for(server, max_response_bytes=MIB),
            )
    error = caught.value
    assert error.limit == MIB
    assert MIB < error.received <= MIB + CHUNK_BYTES
    assert error.exchange is not None and error.exchange.truncated
    assert len(error.exchange.body) == MIB
    assert classify_error(error) is ErrorClass.TOO_LARGE


def test_declared_length_over_the_cap_fails_without_reading_the_body():
    with serving(body_of(5 * MIB, declare_length=True)) as server:
        with pytest.raises(UpstreamTooLarge) as caught:
            send(
                OutboundRequest("GET", server.url()),
                policy=policy_for(server, max_response_bytes=MIB),
            )
    assert caught.value.received == 0
    assert "declared 5242880 bytes" in caught.value.message


def test_endless_body_is_cut_at_the_cap_and_the_socket_closed(healthy):
    with serving(endless_body) as server:
        started = time.monotonic()
        with pytest.raises(UpstreamTooLarge):
            send(
                OutboundRequest("GET", server.url()),
                policy=policy_for(server, max_response_bytes=MIB),
            )
        assert time.monotonic() - started < 2.0 + SLACK_S
        assert server.wait_until_disconnected()
    assert_still_healthy(healthy)


def test_compressed_body_is_capped_after_decompression():
    with serving(gzip_bomb) as server:
        with pytest.raises(UpstreamTooLarge) as caught:
            send(
                OutboundRequest("GET", server.url()),
                policy=policy_for(server, max_response_bytes=MIB),
            )
    assert caught.value.received <= MIB + CHUNK_BYTES


def test_head_response_may_declare_a_length_over_the_cap():
    with serving(body_of(5 * MIB, declare_length=True)) as server:
        policy = policy_for(server, max_response_bytes=MIB)
        exchange = send(OutboundRequest("HEAD", server.url()), policy=policy)
    assert (exchange.status, exchange.body) == (200, b"")


def test_body_and_json_together_are_refused_before_sending(healthy):
    request = OutboundRequest("POST", healthy.url(), body=b"x", json={"x": 1})
    with pytest.raises(InvalidRequest):
        send(request, policy=policy_for(healthy))
    assert healthy.accepted == 0


def test_header_injection_is_refused(healthy):
    request = OutboundRequest("GET", healthy.url(), headers={"X-Evil": "a\r\nHost: evil"})
    with pytest.raises(InvalidRequest):
        send(request, policy=policy_for(healthy))


# --- TLS ----------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path):
    context, ca_file = make_tls(tmp_path, "api.customer.example")
    server = HostileServer(ok_json, tls=context)
    server.ca_file = ca_file
    yield server
    server.close()


def test_tls_uses_the_original_name_for_sni_and_certificate_while_pinned(tls_server):
    policy = policy_for(
        tls_server, names={"api.customer.example": ["127.0.0.1"]}, ca_bundle=tls_server.ca_file
    )
    url = tls_server.url("/x", host="api.customer.example", scheme="https")
    exchange = send(OutboundRequest("GET", url), policy=policy)
    assert exchange.json() == {"ok": True}
    assert tls_server.server_names == ["api.customer.example"]
    assert tls_server.requests[-1].header("Host") == f"api.customer.example:{tls_server.port}"


def test_tls_certificate_for_another_name_is_a_tls_failure(tls_server):
    policy = policy_for(
        tls_server, names={"other.customer.example": ["127.0.0.1"]}, ca_bundle=tls_server.ca_file
    )
    url = tls_server.url("/x", host="other.customer.example", scheme="https")
    with pytest.raises(TlsFailure, match="certificate") as caught:
        send(OutboundRequest("GET", url), policy=policy)
    assert classify_error(caught.value) is ErrorClass.TLS


def test_slow_drip_over_tls_fails_at_the_deadline(tmp_path):
    context, ca_file = make_tls(tmp_path, "api.customer.example")
    with serving(slow_drip(interval=0.05, size=400), tls=context) as server:
        policy = policy_for(
            server, names={"api.customer.example": ["127.0.0.1"]}, ca_bundle=ca_file, deadline_s=0.6
        )
        url = server.url("/", host="api.customer.example", scheme="https")
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            send(OutboundRequest("GET", url), policy=policy)
        assert time.monotonic() - started < 0.6 + SLACK_S


def test_untrusted_certificate_is_a_tls_failure_unless_verification_is_off(tls_server):
    policy = policy_for(tls_server, names={"api.customer.example": ["127.0.0.1"]})
    url = tls_server.url("/x", host="api.customer.example", scheme="https")
    with pytest.raises(TlsFailure):
        send(OutboundRequest("GET", url), policy=policy)
    with pytest.warns(Warning):  # urllib3 warns about every unverified request
        exchange = send(OutboundRequest("GET", url, verify_tls=False), policy=policy)
    assert exchange.status == 200


# --- answers that are not usable HTTP -----------------------------------------------


@pytest.mark.parametrize(
    ("handler", "words"),
    [
        (non_http_banner, "did not answer HTTP"),
        (negative_length, "Content-Length"),
        (conflicting_lengths, "Content-Length"),
        (bad_gzip, "Content-Encoding"),
    ],
    ids=["non-http", "negative-length", "conflicting-lengths", "bad-gzip"],
)
def test_a_reply_that_is_not_usable_http_is_a_malformed_response(healthy, handler, words):
    with serving(handler) as server:
        with pytest.raises(MalformedResponse, match=words) as caught:
            send(OutboundRequest("GET", server.url("/x?key=s3cret")), policy=policy_for(server))
    error = caught.value
    assert classify_error(error) is ErrorClass.MALFORMED
    assert "s3cret" not in error.message and "OpenSSH" not in error.message
    assert error.exchange is not None and error.exchange.request.url.endswith("/x?key=s3cret")
    assert_still_healthy(healthy)


def test_timings_are_rounded_to_hundredths_of_a_millisecond(healthy):
    exchange = send(OutboundRequest("GET", healthy.url()), policy=policy_for(healthy))
    assert exchange.elapsed_ms == round(exchange.elapsed_ms, 2)
    assert exchange.ttfb_ms == round(exchange.ttfb_ms, 2)


def test_a_declared_length_over_the_cap_keeps_the_status_on_the_error():
    with serving(body_of(5 * MIB, declare_length=True)) as server:
        with pytest.raises(UpstreamTooLarge) as caught:
            send(
                OutboundRequest("GET", server.url()),
                policy=policy_for(server, max_response_bytes=MIB),
            )
    assert caught.value.exchange is not None and caught.value.exchange.status == 200


def test_no_request_url_reaches_the_logs_even_at_debug_level(caplog):
    with serving(garbled_header) as server, caplog.at_level(logging.DEBUG):
        try:
            send(OutboundRequest("GET", server.url("/x?api_key=s3cret")), policy=policy_for(server))
        except OutboundError:
            pass  # which error does not matter here: only what reached the logs
    assert server.requests, "the request reached the server"
    assert "s3cret" not in caplog.text
