"""Top-level URL routes."""

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("integrations.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # A page for people: anonymous visitors go to the login page instead of a 401.
    path(
        "api/docs/",
        login_required(SpectacularSwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("accounts/", include("accounts.urls")),
    path("", include("integrations.urls")),
]

# JSON errors under /api/ even for paths no route matches.
handler404 = "integrations.api.errors.api_not_found"
