"""Customers and their environments (UAT, production)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from integrations.choices import EnvironmentKind
from integrations.outbound.errors import BlockedDestination, InvalidUrl
from integrations.outbound.urls import base_url_check, error_sentence, is_absolute_url


class Customer(models.Model):
    """An enterprise customer whose backend APIs the platform calls."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    notes = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Environment(models.Model):
    """One of a customer's deployments (UAT or production) with its base URL and limits.

    Credentials and endpoints hang off an environment.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=100, help_text="e.g. UAT, Production EU")
    slug = models.SlugField(max_length=80)
    kind = models.CharField(max_length=20, choices=EnvironmentKind, default=EnvironmentKind.UAT)
    base_url = models.URLField(
        max_length=500,
        help_text="Scheme and host of the customer's API, e.g. https://api.example.com",
    )
    is_enabled = models.BooleanField(default=True)
    verify_tls = models.BooleanField(
        default=True, help_text="Verify the server certificate. Turn off only for a UAT host."
    )
    connect_timeout_ms = models.PositiveIntegerField(
        default=3000, validators=[MinValueValidator(100)]
    )
    deadline_ms = models.PositiveIntegerField(
        default=10000,
        validators=[MinValueValidator(100)],
        help_text="Wall-clock limit for a whole call, headers and body.",
    )
    latency_budget_ms = models.PositiveIntegerField(
        default=1000, help_text="A call slower than this counts as slow on dashboards."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "slug"], name="environment_unique_slug"),
            models.UniqueConstraint(fields=["customer", "name"], name="environment_unique_name"),
            models.CheckConstraint(
                condition=models.Q(connect_timeout_ms__gte=100) & models.Q(deadline_ms__gte=100),
                name="environment_timeouts_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer.name} / {self.name}"

    def clean(self) -> None:
        # The edge's own policy, so a URL it would refuse is refused here with its reason.
        if self.base_url:
            try:
                base_url_check(self.base_url)
            except (InvalidUrl, BlockedDestination) as error:
                raise ValidationError({"base_url": error_sentence(error)}) from None

    def absolute_url(self, path_or_url: str) -> str:
        """Join a configured path to the base URL; absolute URLs are kept as they are.

        Absolute means it starts with a scheme: ``/go?next=https://x`` is still a path.
        """
        if is_absolute_url(path_or_url):
            return path_or_url
        return self.base_url.rstrip("/") + "/" + path_or_url.lstrip("/")
