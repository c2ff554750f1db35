"""Save-time rules for what a solution engineer configures: names, values and templates.

Header names, header values, field names and JSON templates all end up on the wire
to a customer. A header name with a line break in it (``default\\nX-Injected: 1``)
would add a header of the engineer's choosing to every call, and a NUL in a JSON
template cannot even be stored, so each is refused when it is saved, with a message
naming what is wrong. ``integrations.models.rules`` runs these on every write path.

Each ``*_problem`` function returns the sentence that says what is wrong, or None;
the ``validate_*`` functions raise it as a ValidationError for forms and serializers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.core.exceptions import ValidationError

from integrations.crypto import SecretDecryptionError
from integrations.json_limits import json_depth
from integrations.secrets import Secret
from integrations.services.templates import template_variables

Validator = Callable[[Any], None]

HEADER_NAME_MAX_LENGTH = 100
HEADER_VALUE_MAX_LENGTH = 4096
HEADERS_MAX_COUNT = 50
ASSERTIONS_MAX_COUNT = 50
PATTERN_MAX_LENGTH = 500
# Templates are short documents people write; anything past these is a paste gone wrong.
BODY_TEMPLATE_MAX_BYTES = 64 * 1024
SMALL_JSON_MAX_BYTES = 16 * 1024
TEMPLATE_MAX_DEPTH = 32  # tighter than JSON_MAX_DEPTH, which bounds any request body

# RFC 9110 section 5.6.2: a field name is a token of these characters.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# RFC 9110 section 5.5: a field value holds no control character but the horizontal tab.
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_FIELD_NAME = re.compile(r"[A-Za-z0-9_$@][A-Za-z0-9_.:$@-]*")
_PATH_SEGMENT = r"[A-Za-z0-9_$@:-]+"
_JSON_PATH = re.compile(rf"{_PATH_SEGMENT}(?:\.{_PATH_SEGMENT})*")
_CLAIM_NAME = re.compile(r"[^\s\x00-\x1f\x7f]+")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# PostgreSQL's jsonb refuses \u0000; a lone surrogate cannot be encoded as UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Written by the HTTP client for every request: a configured one would contradict it
# (two lengths, a second framing) or send the request to another virtual host.
CLIENT_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

TOKEN_CHARACTERS = "letters, digits and ! # $ % & ' * + - . ^ _ ` | ~"
HEADER_NAME_RULE = (
    f"Must be an HTTP header name (an RFC 9110 token): {TOKEN_CHARACTERS}, "
    "with no spaces, colons or line breaks."
)
COOKIE_NAME_RULE = (
    f"Must be a cookie name (an RFC 6265 token): {TOKEN_CHARACTERS}, "
    "with no spaces, '=', ';' or line breaks."
)
HEADER_VALUE_RULE = (
    "Must not contain line breaks (CR, LF), NUL or other control characters; "
    "a tab is the only one allowed."
)
FIELD_NAME_RULE = (
    "Must be a field name: letters, digits and _ - . : $ @, starting with a letter, "
    "digit, _, $ or @, with no spaces or line breaks."
)
CLAIM_NAME_RULE = (
    "Must be a JWT claim name with no spaces or control characters, "
    "e.g. sub or https://acme.example/customer_id."
)


# --- names and values ---------------------------------------------------------------


def header_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be sent as a header name, or None."""
    if len(name) > HEADER_NAME_MAX_LENGTH:
        return f"Must be at most {HEADER_NAME_MAX_LENGTH} characters long."
    return _header_token_problem(name)


def _header_token_problem(name: str) -> str | None:
    if not _TOKEN.fullmatch(name):
        return HEADER_NAME_RULE
    if name.lower() in CLIENT_HEADERS:
        return f"Cannot be set here: the portal's HTTP client writes {name} on every request."
    return None


def header_value_problem(value: str) -> str | None:
    """Why ``value`` (a header value or a template of one) cannot be sent, or None."""
    if _CONTROL_BUT_TAB.search(value):
        return HEADER_VALUE_RULE
    if len(value) > HEADER_VALUE_MAX_LENGTH:
        return f"Must be at most {HEADER_VALUE_MAX_LENGTH} characters long."
    return None


# The field validators leave the length to each model field's max_length.


def validate_header_name(value: str) -> None:
    _raise(_header_token_problem(value), code="invalid_header_name")


def validate_header_secret(value: Secret | str) -> None:
    """An API key's value, sent as a header value; the message never quotes it."""
    try:
        text = value.reveal() if isinstance(value, Secret) else value
    except SecretDecryptionError:
        return  # stored under a retired key: the forms ask for it again
    _raise(header_value_problem(text), code="invalid_header_value")


def validate_cookie_name(value: str) -> None:
    if not _TOKEN.fullmatch(value):
        _raise(COOKIE_NAME_RULE, code="invalid_cookie_name")


def validate_field_name(value: str) -> None:
    """A JSON or form field name the portal reads or sends (``access_token``, ``JWT``)."""
    if not _FIELD_NAME.fullmatch(value):
        _raise(FIELD_NAME_RULE, code="invalid_field_name")


def validate_claim_name(value: str) -> None:
    """A JWT claim name: namespaced claims are URLs, so more is allowed than in a field."""
    if not _CLAIM_NAME.fullmatch(value):
        _raise(CLAIM_NAME_RULE, code="invalid_claim_name")


# --- JSON templates -----------------------------------------------------------------


class JsonLimit:
    """A JSON value the database can store, at most ``max_bytes`` and ``max_depth`` deep."""

    def __init__(self, *, max_bytes: int, max_depth: int = TEMPLATE_MAX_DEPTH) -> None:
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    def __call__(self, value: Any) -> None:
        _raise(self.problem(value), code="json_limit")

    def problem(self, value: Any) -> str | None:
        # Depth first: the other checks walk the value and must not meet a deep one.
        if json_depth(value, stop_after=self.max_depth) > self.max_depth:
            return (
                f"Nests arrays and objects more than {self.max_depth} levels deep; "
                "flatten the structure."
            )
        if any(_UNSTORABLE.search(text) for text in _texts(value)):
            return (
                "Contains a NUL character (\\u0000) or an unpaired surrogate, "
                "which cannot be stored; remove it."
            )
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
        if size > self.max_bytes:
            return f"Is {size:,} bytes as JSON; the limit is {self.max_bytes:,} bytes."
        return None


BODY_TEMPLATE_LIMIT = JsonLimit(max_bytes=BODY_TEMPLATE_MAX_BYTES)
SMALL_JSON_LIMIT = JsonLimit(max_bytes=SMALL_JSON_MAX_BYTES)


def validate_body_template(value: Any) -> None:
    BODY_TEMPLATE_LIMIT(value)


def validate_headers_template(value: Any) -> None:
    """A JSON object of header name to a string value (which may hold {placeholders}).

    Each header is judged before the size, so a NUL is named as a header's problem.
    """
    if not isinstance(value, dict):
        _raise(
            'Must be a JSON object of header name to value, e.g. {"accept": "application/json"}.',
            code="invalid_headers",
        )
    if len(value) > HEADERS_MAX_COUNT:
        _raise(f"At most {HEADERS_MAX_COUNT} headers can be configured.", code="too_many")
    problems = [
        f"Header {_quoted(k)}: {_lower_first(p)}"
        for k, v in value.items()
        if (p := _header_problem(k, v))
    ]
    problems += _duplicate_names(value)
    if problems:
        raise ValidationError(problems, code="invalid_headers")
    SMALL_JSON_LIMIT(value)


def validate_sample_variables(value: Any) -> None:
    """A JSON object of placeholder name to a string or number."""
    SMALL_JSON_LIMIT(value)
    if not isinstance(value, dict) or not all(_is_scalar(v) for v in value.values()):
        _raise("Must be a JSON object of name to string or number.", code="invalid_variables")
    bad = [_quoted(name) for name in value if not _VARIABLE_NAME.fullmatch(name)]
    if bad:
        _raise(
            f"Variable {', '.join(bad)}: a name is a letter or _ followed by letters, "
            "digits or _, as in {order_id}.",
            code="invalid_variables",
        )


def call_variables_problems(headers: Any, variables: Mapping[str, str]) -> list[str]:
    """Why the variables given for one test call cannot be used, as the stored samples."""
    problem = SMALL_JSON_LIMIT.problem(dict(variables))
    return [problem] if problem else header_variable_problems(headers, variables)


def header_variable_problems(headers: Any, variables: Mapping[str, Any]) -> list[str]:
    """Why variables that a header template uses cannot be sent in that header."""
    if not isinstance(headers, dict):
        return []
    used = template_variables(*(v for v in headers.values() if isinstance(v, str)))
    return [
        f"Variable {name} is sent in a header, so it {_lower_first(problem)}"
        for name in used
        if name in variables and (problem := header_value_problem(str(variables[name])))
    ]


# --- assertions ---------------------------------------------------------------------

# Each assertion type and the keys it takes besides "type"; all of them are required.
ASSERTION_KEYS: dict[str, frozenset[str]] = {
    "json_exists": frozenset({"path"}),
    "json_equals": frozenset({"path", "value"}),
    "json_matches": frozenset({"path", "pattern"}),
    "max_latency_ms": frozenset({"value"}),
    "status": frozenset({"value"}),
}
ASSERTION_EXAMPLE = '[{"type": "json_exists", "path": "customer.id"}]'


def validate_assertions(value: Any) -> None:
    SMALL_JSON_LIMIT(value)
    if not isinstance(value, list):
        _raise(f"Must be a JSON list of assertions, e.g. {ASSERTION_EXAMPLE}.", code="invalid")
    if len(value) > ASSERTIONS_MAX_COUNT:
        _raise(f"At most {ASSERTIONS_MAX_COUNT} assertions can be configured.", code="too_many")
    problems = [
        f"Assertion {number}: {problem}"
        for number, item in enumerate(value, 1)
        if (problem := assertion_problem(item))
    ]
    if problems:
        raise ValidationError(problems, code="invalid_assertion")


def assertion_problem(item: Any) -> str | None:
    """Why one assertion cannot be evaluated, or None."""
    if not isinstance(item, dict):
        return f"must be a JSON object, as in {ASSERTION_EXAMPLE}."
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in ASSERTION_KEYS:
        return f"unknown type {_quoted(kind)}; use one of {', '.join(ASSERTION_KEYS)}."
    takes = ASSERTION_KEYS[kind]
    if extra := set(item) - takes - {"type"}:
        return f"a {kind} assertion does not take {_listed(extra)}; it takes {_listed(takes)}."
    if missing := takes - set(item):
        return f"a {kind} assertion needs {_listed(missing)}."
    return _ASSERTION_CHECKS[kind](item)


def _json_assertion_problem(item: dict[str, Any]) -> str | None:
    path = item["path"]
    if not isinstance(path, str) or not _JSON_PATH.fullmatch(path):
        return "path must be a dotted JSON path such as customer.id or orders.0.id."
    if "pattern" in item:
        return _pattern_problem(item["pattern"])
    return None


def _pattern_problem(pattern: Any) -> str | None:
    if not isinstance(pattern, str) or len(pattern) > PATTERN_MAX_LENGTH:
        return f"pattern must be a regular expression of at most {PATTERN_MAX_LENGTH} characters."
    try:
        re.compile(pattern)
    except re.error as error:
        return f"pattern is not a valid regular expression: {error}."
    return None


def _latency_problem(item: dict[str, Any]) -> str | None:
    value = item["value"]
    if not _is_number(value) or value <= 0:
        return "value must be a positive number of milliseconds."
    return None


def _status_problem(item: dict[str, Any]) -> str | None:
    value = item["value"]
    if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
        return "value must be an HTTP status code from 100 to 599."
    return None


_ASSERTION_CHECKS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "json_exists": _json_assertion_problem,
    "json_equals": _json_assertion_problem,
    "json_matches": _json_assertion_problem,
    "max_latency_ms": _latency_problem,
    "status": _status_problem,
}


# --- helpers ------------------------------------------------------------------------


def _raise(problem: str | None, *, code: str) -> None:
    if problem is not None:
        raise ValidationError(problem, code=code)


def _header_problem(name: Any, value: Any) -> str | None:
    if not isinstance(value, str):
        return "Its value must be a string."
    return header_name_problem(str(name)) or header_value_problem(value)


def _duplicate_names(headers: dict[str, Any]) -> list[str]:
    seen: dict[str, str] = {}
    problems = []
    for name in headers:
        first = seen.setdefault(name.lower(), name)
        if first != name:
            problems.append(f"Headers {_quoted(first)} and {_quoted(name)} are the same header.")
    return problems


def _texts(value: Any) -> Iterator[str]:
    """Every string in a JSON value, object keys included, without recursion."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from (k for k in item if isinstance(k, str))
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str) or _is_number(value)


def _quoted(value: Any) -> str:
    """A name as JSON shows it: line breaks and control characters visible as escapes."""
    return json.dumps(value, ensure_ascii=False)


def _lower_first(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]


def _listed(names: frozenset[str] | set[str]) -> str:
    return ", ".join(sorted(names)) or "nothing"
