"""Customer API endpoints the platform calls, with the credentials each carries."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from integrations.choices import HttpMethod, IdentifierLocation
from integrations.models.credentials import ApiKey, CustomerAuth, OAuthClient, TestUser
from integrations.models.customers import Environment
from integrations.models.rules import SaveRulesModel
from integrations.outbound.errors import InvalidUrl
from integrations.outbound.urls import error_sentence, path_check
from integrations.services.identifier import identifier_config_errors
from integrations.services.templates import template_secret_errors
from integrations.validators import (
    header_variable_problems,
    validate_assertions,
    validate_body_template,
    validate_field_name,
    validate_header_name,
    validate_headers_template,
    validate_sample_variables,
)


def guide_headers() -> dict[str, str]:
    """A new endpoint's headers: the guide's business calls send a JSON body."""
    return {"content-type": "application/json"}


class Endpoint(SaveRulesModel):
    """One business API of a customer (guide: POST /account/getprofile).

    Path, headers and body are templates; which credentials are attached and where
    the customer identifier goes are configuration, with the guide's values as defaults.
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="endpoints")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    method = models.CharField(max_length=10, choices=HttpMethod, default=HttpMethod.POST)
    path = models.CharField(
        max_length=500,
        default="/account/getprofile",
        help_text="Path template on the environment's base URL, e.g. /orders/{order_id}",
    )
    headers_template = models.JSONField(
        default=guide_headers,
        blank=True,
        help_text='Extra headers. The guide\'s calls send {"content-type": "application/json"}.',
    )
    body_template = models.JSONField(
        default=dict,
        null=True,
        blank=True,
        help_text="JSON body template. Empty ({}) by default, as the guide's calls send; "
        "clear it (null) to send no body.",
    )
    sample_variables = models.JSONField(
        default=dict,
        blank=True,
        help_text="Values of the templates' {placeholders} for probes and readiness checks, "
        'and the defaults of a test call, e.g. {"order_id": "A-1001"}. Not for secrets.',
    )
    # Credentials are PROTECTed: deleting one in use would silently change what is sent.
    oauth_client = models.ForeignKey(
        OAuthClient, on_delete=models.PROTECT, null=True, blank=True, related_name="endpoints"
    )
    customer_auth = models.ForeignKey(
        CustomerAuth, on_delete=models.PROTECT, null=True, blank=True, related_name="endpoints"
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.PROTECT, null=True, blank=True, related_name="endpoints"
    )
    default_test_user = models.ForeignKey(
        TestUser,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Test user for probes and for test calls that do not pick one.",
    )
    identifier_location = models.CharField(
        max_length=10,
        choices=IdentifierLocation,
        default=IdentifierLocation.HEADER,
        help_text="Where the customer identifier goes: a header, a JSON body field or a cookie.",
    )
    identifier_header = models.CharField(
        max_length=100,
        default="customer-auth",
        help_text="HTTP header location only: the header's name (not kept for other locations).",
    )
    identifier_format = models.CharField(
        max_length=200,
        default="JWT {token}",
        help_text="What is sent as the identifier, in a header, body field or cookie: {token} is "
        "the JWT (or the session cookie's value), {claims.sub} or {claims.customer.id} a claim "
        "of the JWT. Not used when the identifier is not sent. The guide's JWT {token} is a "
        "header format: in a body field or cookie it is saved as the bare {token}.",
    )
    identifier_body_field = models.CharField(
        max_length=100,
        default="customer_auth",
        blank=True,
        help_text="JSON body field location only: the body field that carries the identifier "
        "(not kept for other locations).",
    )
    follow_redirects = models.BooleanField(default=False)
    timeout_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Overrides the environment's deadline for this endpoint."
    )
    expected_status = models.PositiveSmallIntegerField(
        default=200, validators=[MinValueValidator(100), MaxValueValidator(599)]
    )
    assertions = models.JSONField(
        default=list,
        blank=True,
        help_text='e.g. [{"type": "json_exists", "path": "customer_id"}, '
        '{"type": "max_latency_ms", "value": 800}]',
    )
    probe_enabled = models.BooleanField(default=True)
    probe_interval_s = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(5)], help_text="Seconds between health probes."
    )
    retry_interval_s = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(5)],
        help_text="Seconds between probes while the endpoint is not healthy.",
    )
    failure_threshold = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1)],
        help_text="Consecutive failures before the endpoint is down.",
    )
    success_threshold = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1)],
        help_text="Consecutive successes before the endpoint is healthy again.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    save_rules = {
        "headers_template": validate_headers_template,
        "body_template": validate_body_template,
        "sample_variables": validate_sample_variables,
        "assertions": validate_assertions,
        "identifier_header": validate_header_name,
        "identifier_body_field": validate_field_name,
    }

    class Meta:
        ordering = ["environment", "name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "slug"], name="endpoint_unique_slug"),
            models.CheckConstraint(
                condition=models.Q(expected_status__gte=100, expected_status__lte=599),
                name="endpoint_expected_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(probe_interval_s__gte=5), name="endpoint_probe_interval_min"
            ),
        ]
        indexes = [models.Index(fields=["probe_enabled"], name="endpoint_probe_enabled")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} @ {self.environment}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        env_id = self.environment_id
        for field in ("oauth_client", "customer_auth", "api_key"):
            credential = getattr(self, field)
            if credential is not None and credential.environment_id != env_id:
                errors[field] = "Must belong to the endpoint's environment."
        user = self.default_test_user
        if user is not None and user.customer_auth_id != self.customer_auth_id:
            errors["default_test_user"] = "Must be a test user of the endpoint's customer auth."
        if self.identifier_location != IdentifierLocation.NONE and self.customer_auth is None:
            errors["identifier_location"] = "Sending the customer identifier needs a customer auth."
        for name, message in identifier_config_errors(self).items():
            if self.save_rule_error(name) is None:  # else clean_fields said it already
                errors.setdefault(name, message)
        # A literal credential in a template would be stored and shown in plain text.
        templates = {"headers": self.headers_template, "body": self.body_template}
        for name, message in template_secret_errors(**templates).items():
            errors.setdefault(name, message)
        try:
            path_check(self.path)
        except InvalidUrl as error:
            errors["path"] = error_sentence(error)
        # The templates' own shapes are save rules; this is what they mean together.
        if isinstance(self.sample_variables, dict):
            problems = header_variable_problems(self.headers_template, self.sample_variables)
            if problems:
                errors["sample_variables"] = " ".join(problems)
        if errors:
            raise ValidationError(errors)
