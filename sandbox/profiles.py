"""Fake demo data returned by /account/getprofile, one profile per test user.

The default users (alice, bob) have hand-written data so demos look real; any other user
configured through SANDBOX_USERS gets a plain generated profile.
"""

from __future__ import annotations

from typing import Any

DEMO_PROFILES: dict[str, dict[str, Any]] = {
    "alice": {
        "first_name": "Alice",
        "last_name": "Anderson",
        "plan": "unlimited-plus",
        "balance": {"amount": "42.10", "currency": "USD"},
        "orders": [
            {"order_id": "A-1001", "status": "delivered", "total": "129.99", "item": "Router"},
            {"order_id": "A-1002", "status": "shipped", "total": "19.50", "item": "Cable"},
        ],
    },
    "bob": {
        "first_name": "Bob",
        "last_name": "Brown",
        "plan": "basic",
        "balance": {"amount": "0.00", "currency": "USD"},
        "orders": [
            {"order_id": "B-2001", "status": "processing", "total": "59.00", "item": "Modem"},
        ],
    },
}


def profile_for(*, username: str, customer_id: str) -> dict[str, Any]:
    """The profile of ``username``, keyed by its opaque ``customer_id``, never the username."""
    data = DEMO_PROFILES.get(username) or generated_profile(username)
    return {"customer_id": customer_id, **data}


def generated_profile(username: str) -> dict[str, Any]:
    """A plain profile for a configured user without hand-written demo data."""
    return {
        "first_name": username.capitalize(),
        "last_name": "Example",
        "plan": "basic",
        "balance": {"amount": "0.00", "currency": "USD"},
        "orders": [],
    }
