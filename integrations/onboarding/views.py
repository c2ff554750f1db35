"""The flow's pages: each parses its form, calls one service, and shows or moves on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import Role, role_required
from integrations.models import (
    Customer,
    CustomerAuth,
    Endpoint,
    Environment,
    OAuthClient,
    TestUser,
)
from integrations.onboarding import checks, services
from integrations.onboarding.forms import (
    ApiKeyForm,
    CustomerAuthForm,
    CustomerForm,
    EndpointForm,
    EnvironmentForm,
    OAuthClientForm,
    StepForm,
    TestUserForm,
)
from integrations.onboarding.steps import (
    REFUSABLE,
    STEP,
    Flow,
    Step,
    back_url,
    flow_load,
    resume_url,
    step_after,
    step_url,
    steps_nav,
)

engineer_page = role_required(Role.ENGINEER)
Form = TypeVar("Form", bound=StepForm)
RESUMABLE = 20  # customers listed on the start page, newest first
form_page = require_http_methods(["GET", "POST"])


@engineer_page
@form_page
def start_page(request: HttpRequest) -> HttpResponse:
    """Step 1 for a new customer, and the customers whose onboarding can be resumed."""
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and (saved := _saved(request, form, _customer_save(request))):
        return HttpResponseRedirect(step_url(STEP["environment"], Flow(customer=saved.row)))
    # Each links to resume_page: where a flow goes on is read for the one clicked only.
    resumable = Customer.objects.order_by("-created_at")[:RESUMABLE]
    return _render(request, Flow(customer=Customer()), STEP["customer"], form, resumable=resumable)


@engineer_page
@require_GET
def resume_page(request: HttpRequest, customer: str) -> HttpResponse:
    """The start page's "Continue": the customer's first step without a row."""
    return HttpResponseRedirect(resume_url(_flow(customer, _first_env_slug(customer))))


@engineer_page
@form_page
def customer_step(request: HttpRequest, customer: str) -> HttpResponse:
    flow = _flow(customer, _first_env_slug(customer))
    form = CustomerForm(request.POST or None, instance=flow.customer)
    if request.method == "POST" and (saved := _saved(request, form, _customer_save(request, flow))):
        flow.customer = saved.row
        return HttpResponseRedirect(step_url(STEP["environment"], flow))
    return _render(request, flow, STEP["customer"], form)


@engineer_page
@form_page
def environment_step(
    request: HttpRequest, customer: str, environment: str | None = None
) -> HttpResponse:
    flow = _flow(customer, environment)
    form = EnvironmentForm(request.POST or None, instance=flow.environment)

    def save(data: dict[str, Any]) -> services.Saved[Any]:
        return services.environment_save(
            customer=flow.customer, environment=flow.environment, **_who(request), **data
        )

    if request.method == "POST" and (saved := _saved(request, form, save)):
        flow.environment = saved.row
        return _next(flow, "environment")
    return _render(request, flow, STEP["environment"], form)


@engineer_page
@form_page
def oauth_client_step(request: HttpRequest, customer: str, environment: str) -> HttpResponse:
    flow = _flow(customer, environment)
    if _skipped(request, "oauth_client"):
        return _next(flow, "oauth_client")
    instance = flow.oauth_client or OAuthClient(environment=flow.environment)
    form = OAuthClientForm(request.POST or None, instance=instance)

    def save(data: dict[str, Any]) -> services.Saved[Any]:
        return services.oauth_client_save(
            environment=_env(flow), oauth_client=flow.oauth_client, **_who(request), **data
        )

    if request.method == "POST" and (saved := _saved(request, form, save)):
        flow.oauth_client = saved.row  # kept even when the customer refuses it
        outcome = checks.oauth_client_check(oauth_client=saved.row, **_who(request))
        if outcome.ok:
            messages.success(request, outcome.message)
            return _next(flow, "oauth_client")
        form = _refused(OAuthClientForm(request.POST, instance=saved.row), outcome, "client")
    return _render(request, flow, STEP["oauth_client"], form)


@engineer_page
@form_page
def customer_auth_step(request: HttpRequest, customer: str, environment: str) -> HttpResponse:
    flow = _flow(customer, environment)
    if _skipped(request, "customer_auth"):
        return _next(flow, "customer_auth")
    instance = flow.customer_auth or CustomerAuth(environment=flow.environment)
    form = CustomerAuthForm(request.POST or None, instance=instance)

    def save(data: dict[str, Any]) -> services.Saved[Any]:
        return services.customer_auth_save(
            environment=_env(flow), customer_auth=flow.customer_auth, **_who(request), **data
        )

    if request.method == "POST" and (saved := _saved(request, form, save)):
        flow.customer_auth = saved.row
        return _next(flow, "customer_auth")
    return _render(request, flow, STEP["customer_auth"], form)


@engineer_page
@form_page
def test_user_step(request: HttpRequest, customer: str, environment: str) -> HttpResponse:
    flow = _flow(customer, environment)
    if flow.customer_auth is None:
        messages.info(request, "A test user logs in through a customer auth: add one first.")
        return HttpResponseRedirect(step_url(STEP["customer_auth"], flow))
    auth = flow.customer_auth
    instance = flow.test_user or TestUser(customer_auth=auth)
    form = TestUserForm(request.POST or None, instance=instance)

    def save(data: dict[str, Any]) -> services.Saved[Any]:
        return services.test_user_save(
            customer_auth=auth, test_user=flow.test_user, **_who(request), **data
        )

    if request.method == "POST" and (saved := _saved(request, form, save)):
        flow.test_user = saved.row
        outcome = checks.test_user_check(test_user=saved.row, **_who(request))
        if outcome.ok:
            messages.success(request, outcome.message)
            return _next(flow, "test_user")
        form = _refused(TestUserForm(request.POST, instance=saved.row), outcome, "test user")
    return _render(request, flow, STEP["test_user"], form)


@engineer_page
@form_page
def api_key_step(request: HttpRequest, customer: str, environment: str) -> HttpResponse:
    flow = _flow(customer, environment)
    if _skipped(request, "api_key"):
        return _next(flow, "api_key")
    form = ApiKeyForm(request.POST or None, instance=flow.api_key)

    def save(data: dict[str, Any]) -> services.Saved[Any]:
        return services.api_key_save(
            environment=_env(flow), api_key=flow.api_key, **_who(request), **data
        )

    if request.method == "POST" and _saved(request, form, save):
        return _next(flow, "api_key")
    return _render(request, flow, STEP["api_key"], form)


@engineer_page
@form_page
def endpoint_step(request: HttpRequest, customer: str, environment: str) -> HttpResponse:
    flow = _flow(customer, environment)
    form = EndpointForm(
        request.POST or None,
        instance=flow.endpoint or Endpoint(environment=flow.environment),
        has_oauth=flow.oauth_client is not None,
        has_auth=flow.customer_auth is not None,
        has_key=flow.api_key is not None,
    )

    def save(data: dict[str, Any]) -> services.Saved[Any]:
        return services.endpoint_save(flow=flow, **_who(request), **data)

    if request.method == "POST" and _saved(request, form, save):
        return _next(flow, "endpoint")
    return _render(request, flow, STEP["endpoint"], form)


@engineer_page
@form_page
def first_call_step(request: HttpRequest, customer: str, environment: str) -> HttpResponse:
    """Run the endpoint once and the readiness report; the page shows the latest of each."""
    flow = _flow(customer, environment)
    if flow.endpoint is None:
        messages.info(request, "Add the endpoint first: the first call is a call of it.")
        return HttpResponseRedirect(step_url(STEP["endpoint"], flow))
    if request.method == "POST":
        run = checks.first_call_run(endpoint=flow.endpoint, **_who(request))
        _first_call_messages(request, run)
        return HttpResponseRedirect(step_url(STEP["first_call"], flow))
    assert flow.environment is not None
    latest = {
        "test_call": flow.last_call(),
        "report": flow.environment.readiness_reports.order_by("-pk").first(),
    }
    return _render(request, flow, STEP["first_call"], None, **latest)


@engineer_page
def done_page(request: HttpRequest, customer: str, environment: str) -> HttpResponse:
    """What the flow set up, told as it is: a refused credential or a failing call says so."""
    flow = _flow(customer, environment)
    refused = {key: flow.refused(key) for key in REFUSABLE}
    context = {
        "flow": flow,
        "steps": steps_nav(flow, None),
        "refused": refused,
        "test_call": flow.last_call(),
        "set_up": flow.done("first_call") and not any(refused.values()),
    }
    return TemplateResponse(request, "portal/onboarding/done.html", context)


# --- helpers -------------------------------------------------------------------------


def _env(flow: Flow) -> Environment:
    assert flow.environment is not None  # the URL named it, or flow_load gave a 404
    return flow.environment


def _flow(customer: str, environment: str | None) -> Flow:
    return flow_load(customer=customer, environment=environment)


def _first_env_slug(customer: str) -> str | None:
    """The customer's first environment: the one its onboarding goes on with."""
    envs = Environment.objects.filter(customer__slug=customer).order_by("pk")
    return envs.values_list("slug", flat=True).first()


def _who(request: HttpRequest) -> dict[str, Any]:
    return {"actor": request.user, "request": request}


def _customer_save(
    request: HttpRequest, flow: Flow | None = None
) -> Callable[[dict[str, Any]], services.Saved[Any]]:
    def save(data: dict[str, Any]) -> services.Saved[Any]:
        current = flow.customer if flow else None
        return services.customer_save(customer=current, **_who(request), **data)

    return save


def _saved(
    request: HttpRequest, form: StepForm, save: Callable[[dict[str, Any]], services.Saved[Any]]
) -> services.Saved[Any] | None:
    """Validate the form and save its row; None, with the errors on the form, if refused."""
    if not form.is_valid():
        form.secrets_not_kept()
        return None
    try:
        saved = save(form.cleaned_data)
    except ValidationError as error:
        form.errors_show(error)
        return None
    if saved.notice:
        messages.warning(request, saved.notice)
    return saved


def _refused(form: Form, outcome: checks.CheckOutcome, what: str) -> Form:
    """The saved row's form, as typed, with what the customer answered."""
    form.is_valid()
    form.add_error(
        None,
        f"The customer refused the {what}: {outcome.message}. What you typed is saved: "
        "correct what is wrong and submit again (a blank secret keeps the one saved).",
    )
    return form


def _skipped(request: HttpRequest, key: str) -> bool:
    """A skip of a step the guide lets go: nothing is written, a row made before stays."""
    return request.method == "POST" and "skip" in request.POST and STEP[key].skippable


def _next(flow: Flow, key: str) -> HttpResponse:
    return HttpResponseRedirect(step_url(step_after(key, flow), flow))


def _first_call_messages(request: HttpRequest, run: checks.FirstCall) -> None:
    call, report = run.test_call, run.report
    if call.ok:
        messages.success(
            request, f"First test call: HTTP {call.status} in {call.duration_ms:.0f} ms."
        )
    else:
        status = f"HTTP {call.status}" if call.status else "no answer"
        messages.error(
            request, f"First test call failed: {status}, {call.error_code}. {call.error_message}"
        )
    messages.info(request, f"Readiness report: {report.summary_text()}.")


def _render(
    request: HttpRequest, flow: Flow, step: Step, form: StepForm | None, **extra: Any
) -> HttpResponse:
    template = "first_call" if step.key == "first_call" else "step"
    context = {
        "flow": flow,
        "step": step,
        "form": form,
        "steps": steps_nav(flow, step),
        "back": back_url(flow, step),
        # The row is saved (refused or not): submitting again edits it, no skip is offered.
        "has_row": flow.customer.pk is not None and getattr(flow, step.key, None) is not None,
        **extra,
    }
    return TemplateResponse(request, f"portal/onboarding/{template}.html", context)
