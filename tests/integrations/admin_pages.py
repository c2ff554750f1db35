"""An admin change form as a browser submits it: read from the page, a row added as its
"Add another" link adds one (the empty form's fields, pre-filled, under the next index)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from django.test import Client

EMPTY = "__prefix__"


class _FormReader(HTMLParser):
    """Every field of the page's forms with the value a browser would submit."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name", "")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.values[name] = a.get("value", "on" if a.get("type") == "checkbox" else "")
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select is not None:
            if self._first_option is None:
                self._first_option = a.get("value", "")
                self.values.setdefault(self._select, self._first_option)
            if "selected" in a:
                self.values[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # A browser drops the newline that opens a textarea's text, as Django writes it.
            self.values[self._textarea] = self.values[self._textarea].removeprefix("\n")
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.values[self._textarea] += data


def form_read(html: str) -> dict[str, str]:
    reader = _FormReader()
    reader.feed(html)
    return reader.values


def page_form(client: Client, url: str) -> dict[str, str]:
    """The form of the admin page at ``url``, as a browser would submit it untouched."""
    response = client.get(url)
    assert response.status_code == 200
    return form_read(response.content.decode())


def row_add(form: dict[str, str], prefix: str, **typed: str) -> dict[str, str]:
    """Click "Add another" on inline ``prefix`` and type ``typed`` into the new row."""
    index = int(form[f"{prefix}-TOTAL_FORMS"])
    empty = f"{prefix}-{EMPTY}-"
    for name, value in list(form.items()):
        if name.startswith(empty):
            form[f"{prefix}-{index}-{name.removeprefix(empty)}"] = value
    for field, value in typed.items():
        form[f"{prefix}-{index}-{field}"] = value
    form[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
    return form


def submitted(form: dict[str, str]) -> dict[str, Any]:
    """The form without the empty template rows, which Django ignores anyway."""
    return {name: value for name, value in form.items() if EMPTY not in name}
