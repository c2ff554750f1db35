"""Routes of the dashboards: pages, badges and /metrics (mounted at the site root)."""

from django.urls import include, path

from integrations.dashboards import badges, endpoint_page, metrics, views

urlpatterns = [
    path("", views.overview_page, name="overview"),
    path(
        "customers/<slug:customer>/<slug:environment>/",
        views.environment_page,
        name="environment",
    ),
    path(
        "customers/<slug:customer>/<slug:environment>/endpoints/<slug:endpoint>/",
        endpoint_page.endpoint_page,
        name="endpoint",
    ),
    path(
        "customers/<slug:customer>/<slug:environment>/endpoints/<slug:endpoint>/probe/",
        views.endpoint_probe,
        name="endpoint-probe",
    ),
    path(
        "customers/<slug:customer>/<slug:environment>/readiness/",
        views.environment_readiness,
        name="environment-readiness",
    ),
    path(
        "badges/<slug:customer>/<slug:environment>.svg",
        badges.environment_badge,
        name="badge-environment",
    ),
    path(
        "badges/<slug:customer>/<slug:environment>/<slug:endpoint>.svg",
        badges.endpoint_badge,
        name="badge-endpoint",
    ),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("onboarding/", include("integrations.onboarding.urls")),  # the guided new integration
]
