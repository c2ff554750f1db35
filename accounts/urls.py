"""Login and logout pages for people who do not use the admin (and for the browsable API)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.forms import ThrottledAuthenticationForm

# The browsable API links to "rest_framework:login" and "rest_framework:logout".
app_name = "rest_framework"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="portal/login.html",
            authentication_form=ThrottledAuthenticationForm,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
