"""Credentials of an environment: OAuth clients, customer authentication, test users, API keys.

Secret values are ``EncryptedSecretField``s; see integrations/secrets.py.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models

from integrations.choices import ClientAuthStyle, CustomerAuthMode
from integrations.fields import EncryptedSecretField
from integrations.models.customers import Environment
from integrations.models.rules import SaveRulesModel
from integrations.outbound.errors import BlockedDestination, InvalidUrl
from integrations.outbound.urls import error_sentence, path_or_url_check
from integrations.validators import (
    validate_claim_name,
    validate_cookie_name,
    validate_field_name,
    validate_header_name,
    validate_header_secret,
)


def url_field_errors(instance: models.Model, *names: str) -> dict[str, str]:
    """Field errors of URL fields that are a path on the base URL or an absolute URL.

    A blank value is left to the field's own required check.
    """
    errors: dict[str, str] = {}
    for name in names:
        try:
            if value := getattr(instance, name):
                path_or_url_check(value)
        except (InvalidUrl, BlockedDestination) as error:
            errors[name] = error_sentence(error)
    return errors


class OAuthClient(SaveRulesModel):
    """System-level credential: OAuth 2.0 client credentials grant (guide: POST /access_token)."""

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="oauth_clients"
    )
    name = models.CharField(max_length=100, default="default")
    token_url = models.CharField(
        max_length=500,
        default="/oauth/access_token",
        help_text="Path on the environment's base URL, or an absolute URL.",
    )
    client_id = models.CharField(max_length=200)
    client_secret = EncryptedSecretField(null=True, blank=True)
    scope = models.CharField(max_length=500, blank=True)
    auth_style = models.CharField(
        max_length=20, choices=ClientAuthStyle, default=ClientAuthStyle.FORM_BODY
    )
    access_token_field = models.CharField(max_length=100, default="access_token")
    token_type_field = models.CharField(max_length=100, default="token_type")
    expires_in_field = models.CharField(max_length=100, default="expires_in")
    issued_at_field = models.CharField(max_length=100, default="issued_at", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    save_rules = {
        "access_token_field": validate_field_name,
        "token_type_field": validate_field_name,
        "expires_in_field": validate_field_name,
        "issued_at_field": validate_field_name,
    }

    class Meta:
        verbose_name = "OAuth client"
        ordering = ["environment", "name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="oauthclient_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} @ {self.environment}"

    @property
    def settings_changed_at(self) -> datetime | None:
        """When what the token fetch sends last changed (a failure before it is not repeated)."""
        return self.updated_at

    def clean(self) -> None:
        if errors := url_field_errors(self, "token_url"):
            raise ValidationError(errors)


class CustomerAuth(SaveRulesModel):
    """User-level authentication at the customer (guide: POST /customer_authenticate)."""

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="customer_auths"
    )
    name = models.CharField(max_length=100, default="default")
    authenticate_url = models.CharField(
        max_length=500,
        default="/auth/customer_authenticate",
        help_text="Path on the environment's base URL, or an absolute URL.",
    )
    mode = models.CharField(max_length=20, choices=CustomerAuthMode, default=CustomerAuthMode.TOKEN)
    username_field = models.CharField(max_length=100, default="username")
    password_field = models.CharField(max_length=100, default="password")
    token_field = models.CharField(max_length=100, default="JWT")
    expires_in_field = models.CharField(max_length=100, default="expires_in")
    issued_at_field = models.CharField(max_length=100, default="issued_at", blank=True)
    cookie_name = models.CharField(
        max_length=100, default="session", help_text="Cookie mode: the session cookie's name."
    )
    identity_claim = models.CharField(
        max_length=100, default="sub", help_text="JWT claim that identifies the customer."
    )
    # Optional, for the readiness report's signature check. Encrypted because it may be
    # an HMAC shared secret; a PEM public key is stored the same way.
    jwt_verification_key = EncryptedSecretField(
        null=True,
        blank=True,
        help_text="PEM public key or HMAC shared secret that verifies the customer's JWTs.",
    )
    jwks_url = models.CharField(
        max_length=500,
        blank=True,
        help_text="JWKS of the customer's JWT signing keys: a path on the base URL or a URL.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    save_rules = {
        "username_field": validate_field_name,
        "password_field": validate_field_name,
        "token_field": validate_field_name,
        "expires_in_field": validate_field_name,
        "issued_at_field": validate_field_name,
        "cookie_name": validate_cookie_name,
        "identity_claim": validate_claim_name,
    }

    class Meta:
        verbose_name = "customer authentication"
        ordering = ["environment", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "name"], name="customerauth_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_mode_display()}) @ {self.environment}"

    def clean(self) -> None:
        if errors := url_field_errors(self, "authenticate_url", "jwks_url"):
            raise ValidationError(errors)


class TestUser(models.Model):
    """A test login at the customer, used to obtain a customer JWT or cookie. Never a real user."""

    __test__ = False  # not a pytest test class, despite the name

    customer_auth = models.ForeignKey(
        CustomerAuth, on_delete=models.CASCADE, related_name="test_users"
    )
    label = models.CharField(
        max_length=100,
        help_text="A name for this login, unique within its customer auth, e.g. 'UAT user 1'. "
        "Shown in test calls and readiness reports; never sent to the customer.",
    )
    username = models.CharField(max_length=200)
    password = EncryptedSecretField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer_auth", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer_auth", "label"], name="testuser_unique_label"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} @ {self.customer_auth.environment}"

    @property
    def settings_changed_at(self) -> datetime | None:
        """When what this login sends or expects last changed: the test user's own edits
        and its customer auth's (a mode, URL or field name fixed there is tried at once,
        by the same test user, instead of waiting out the failure's cool-down)."""
        changes = [self.updated_at, self.customer_auth.updated_at]
        return max((at for at in changes if at is not None), default=None)


class ApiKey(SaveRulesModel):
    """An API key sent in a header (guide: api-key) to authorise specific APIs."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    header_name = models.CharField(max_length=100, default="api-key")
    value = EncryptedSecretField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    save_rules = {"header_name": validate_header_name, "value": validate_header_secret}

    class Meta:
        verbose_name = "API key"
        ordering = ["environment", "name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="apikey_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.header_name}) @ {self.environment}"
