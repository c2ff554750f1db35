"""Top-level URL routes."""

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from integrations.api.errors import api_route_not_found

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
    # Last under api/: any other path answers the API's JSON 404, DEBUG on or off.
    re_path(r"^api/(?P<unmatched>.*)$", api_route_not_found, name="api-not-found"),
    path("accounts/", include("accounts.urls")),
    path("", include("integrations.urls")),
]

# JSON errors under /api/ even for paths no route matches.
handler404 = "integrations.api.errors.api_not_found"
handler500 = "integrations.api.errors.api_server_error"
