"""URL routes of the integrations app."""

from django.urls import include, path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("", include("integrations.dashboards.urls")),
]
