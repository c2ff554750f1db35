"""Routes of the REST API, mounted at /api/v1/."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from accounts.permissions import RolePermission
from integrations.api import readiness, views
from integrations.api.overview import OverviewView


class PortalRouter(DefaultRouter):
    include_format_suffixes = False


router = PortalRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("environments", views.EnvironmentViewSet, basename="environment")
router.register("oauth-clients", views.OAuthClientViewSet, basename="oauth-client")
router.register("customer-auths", views.CustomerAuthViewSet, basename="customer-auth")
router.register("test-users", views.TestUserViewSet, basename="test-user")
router.register("api-keys", views.ApiKeyViewSet, basename="api-key")
router.register("endpoints", views.EndpointViewSet, basename="endpoint")
router.register("test-calls", views.TestCallViewSet, basename="test-call")
router.register("probe-results", views.ProbeResultViewSet, basename="probe-result")
router.register("endpoint-health", views.EndpointHealthViewSet, basename="endpoint-health")
router.register("health-transitions", views.HealthTransitionViewSet, basename="health-transition")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("overview/", OverviewView.as_view(), name="overview"),
    path(
        "environments/<int:pk>/readiness/",
        # The API's role permissions apply to every route, this one included.
        readiness.EnvironmentReadinessView.as_view(permission_classes=[RolePermission]),
        name="environment-readiness",
    ),
    path(
        "endpoints/<int:pk>/test-calls/",
        views.EndpointTestCallsView.as_view(),
        name="endpoint-test-calls",
    ),
    *router.urls,
]
