"""Small readers over an outbound Exchange used by several services."""

from __future__ import annotations

from integrations.outbound import Exchange, UpstreamHttpError


def header_values(exchange: Exchange, name: str) -> list[str]:
    """Every value of a header that may repeat (Set-Cookie, WWW-Authenticate)."""
    wanted = name.lower()
    return [value for key, value in exchange.headers if key.lower() == wanted]


def http_error(exchange: Exchange) -> UpstreamHttpError:
    """The typed error for an answer whose status is not the one expected."""
    try:
        exchange.raise_for_status()
    except UpstreamHttpError as error:
        return error
    return UpstreamHttpError(
        f"{exchange.request.url.split('?', 1)[0]} answered {exchange.status} {exchange.reason}",
        status=exchange.status or 0,
        exchange=exchange,
    )
