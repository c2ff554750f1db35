"""Routes of the onboarding flow (under /onboarding/, in the "integrations" namespace)."""

from django.urls import path

from integrations.onboarding import views

ENV = "<slug:customer>/<slug:environment>"

urlpatterns = [
    path("", views.start_page, name="onboarding-start"),
    path("<slug:customer>/", views.customer_step, name="onboarding-customer"),
    path("<slug:customer>/resume/", views.resume_page, name="onboarding-resume"),
    path(
        "<slug:customer>/environment/",
        views.environment_step,
        name="onboarding-environment-new",
    ),
    path(f"{ENV}/environment/", views.environment_step, name="onboarding-environment"),
    path(f"{ENV}/oauth-client/", views.oauth_client_step, name="onboarding-oauth-client"),
    path(f"{ENV}/customer-auth/", views.customer_auth_step, name="onboarding-customer-auth"),
    path(f"{ENV}/test-user/", views.test_user_step, name="onboarding-test-user"),
    path(f"{ENV}/api-key/", views.api_key_step, name="onboarding-api-key"),
    path(f"{ENV}/endpoint/", views.endpoint_step, name="onboarding-endpoint"),
    path(f"{ENV}/first-call/", views.first_call_step, name="onboarding-first-call"),
    path(f"{ENV}/done/", views.done_page, name="onboarding-done"),
]
