"""The flow's steps in order, the rows an environment's flow is made of, and their pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import reverse

from integrations.choices import RefreshOutcome
from integrations.models import (
    ApiKey,
    Customer,
    CustomerAuth,
    Endpoint,
    Environment,
    OAuthClient,
    TestCall,
    TestUser,
)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    url_name: str  # under the "integrations" namespace
    intro: str
    skippable: bool = False
    submit: str = "Save and continue"


STEPS = (
    Step(
        "customer",
        "Customer",
        "onboarding-customer",
        "The enterprise customer whose backend APIs the platform will call.",
    ),
    Step(
        "environment",
        "Environment",
        "onboarding-environment",
        "One of the customer's deployments. Its base URL is checked against the outbound "
        "address policy when you save: the portal never calls a private or local address "
        "that is not allow-listed.",
    ),
    Step(
        "oauth_client",
        "OAuth client",
        "onboarding-oauth-client",
        "The system-level credential (OAuth 2.0 client credentials grant). Saving fetches a "
        "token from the customer at once.",
        skippable=True,
        submit="Save and fetch a token",
    ),
    Step(
        "customer_auth",
        "Customer auth",
        "onboarding-customer-auth",
        "How a customer logs in at the customer's API to get the identifier (a JWT or a "
        "session cookie) the platform passes on. Skip it for APIs that take no identifier.",
        skippable=True,
    ),
    Step(
        "test_user",
        "Test user",
        "onboarding-test-user",
        "A test login at the customer, used by probes and test calls. Saving logs it in.",
        submit="Save and log in",
    ),
    Step(
        "api_key",
        "API key",
        "onboarding-api-key",
        "A key sent in a header to authorise specific APIs. Skip it if the customer issues none.",
        skippable=True,
    ),
    Step(
        "endpoint",
        "Endpoint",
        "onboarding-endpoint",
        "The business API to call, pre-filled with the guide's getprofile call. It carries "
        "the credentials made in this flow.",
    ),
    Step(
        "first_call",
        "First call",
        "onboarding-first-call",
        "A first test call with everything above, and a readiness report against the guide.",
        submit="Run the first test call",
    ),
)
STEP = {step.key: step for step in STEPS}


@dataclass
class Flow:
    """One environment's onboarding: the first row of each kind it holds (None: not yet,
    or skipped). Rows added later in the admin do not change which ones the flow edits."""

    customer: Customer
    environment: Environment | None = None
    oauth_client: OAuthClient | None = None
    customer_auth: CustomerAuth | None = None
    test_user: TestUser | None = None
    api_key: ApiKey | None = None
    endpoint: Endpoint | None = None

    def done(self, key: str) -> bool:
        """Whether the step is through: its row saved, and the customer did not refuse it
        (the first call: a call of the endpoint passed)."""
        if key == "first_call":
            return self.endpoint is not None and self.endpoint.test_calls.filter(ok=True).exists()
        return getattr(self, key) is not None and not self.refused(key)

    def refused(self, key: str) -> bool:
        """Whether the customer refused the step's saved row when last asked: the OAuth
        client's token fetch, or the test user's login, failed."""
        if key not in REFUSABLE or getattr(self, key) is None:
            return False
        token = getattr(getattr(self, key), REFUSABLE[key], None)  # None: no cached row
        return token is not None and token.last_outcome == RefreshOutcome.FAILED

    def last_call(self) -> TestCall | None:
        return self.endpoint.test_calls.order_by("-pk").first() if self.endpoint else None


# The steps checked against the customer when saved, and the cached token each check writes.
REFUSABLE = {"oauth_client": "access_token", "test_user": "session"}


def flow_load(*, customer: str, environment: str | None = None) -> Flow:
    """The flow of the customer (and environment) named by URL slugs; 404 when unknown."""
    found = get_object_or_404(Customer, slug=customer)
    if environment is None:
        return Flow(customer=found)
    env = get_object_or_404(Environment, customer=found, slug=environment)
    auth = env.customer_auths.order_by("pk").first()
    return Flow(
        customer=found,
        environment=env,
        oauth_client=env.oauth_clients.order_by("pk").first(),
        customer_auth=auth,
        test_user=auth.test_users.order_by("pk").first() if auth else None,
        api_key=env.api_keys.order_by("pk").first(),
        endpoint=env.endpoints.order_by("pk").first(),
    )


def step_after(key: str, flow: Flow) -> Step:
    """The next step; with no customer auth there is no test user to add."""
    index = [step.key for step in STEPS].index(key)
    following = STEPS[index + 1]
    if following.key == "test_user" and flow.customer_auth is None:
        return STEP["api_key"]
    return following


def step_before(key: str, flow: Flow) -> Step | None:
    index = [step.key for step in STEPS].index(key)
    if index == 0:
        return None
    previous = STEPS[index - 1]
    if previous.key == "test_user" and flow.customer_auth is None:
        return STEP["customer_auth"]
    return previous


# --- where each step's page is ---------------------------------------------------------


def step_url(step: Step, flow: Flow) -> str:
    """The page of ``step`` in ``flow``: environment steps need the environment's slug."""
    slugs = [flow.customer.slug]
    if flow.environment is not None and step.key != "customer":
        slugs.append(flow.environment.slug)
    if step.key == "environment" and flow.environment is None:
        return reverse("integrations:onboarding-environment-new", args=slugs)
    return reverse(f"integrations:{step.url_name}", args=slugs)


def resume_url(flow: Flow) -> str:
    """Where a half-done onboarding goes on: its first step without a row."""
    if flow.environment is None:
        return step_url(STEP["environment"], flow)
    for step in STEPS[2:]:
        if not flow.done(step.key) and not (step.key == "test_user" and not flow.customer_auth):
            return step_url(step, flow)
    return reverse("integrations:onboarding-done", args=[flow.customer.slug, flow.environment.slug])


def steps_nav(flow: Flow, current: Step | None) -> list[dict[str, Any]]:
    """The progress list: each step, whether it has its row, and its page once it can open."""
    started = flow.customer.pk is not None
    return [
        {
            "step": step,
            "number": number,
            "done": started and flow.done(step.key),
            "current": step == current,
            "url": step_url(step, flow) if step_reachable(step, flow) else "",
        }
        for number, step in enumerate(STEPS, start=1)
    ]


def step_reachable(step: Step, flow: Flow) -> bool:
    """Whether the step's page can open: after the customer, or the environment, exists."""
    if step.key in ("customer", "environment"):
        return flow.customer.pk is not None
    return flow.environment is not None


def back_url(flow: Flow, step: Step) -> str:
    """The page before ``step``; the start page before the first step."""
    before = step_before(step.key, flow)
    if before is None:
        return reverse("integrations:onboarding-start")
    return step_url(before, flow) if step_reachable(before, flow) else ""
