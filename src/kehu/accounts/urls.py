from django.urls import path

from kehu.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/verify/", views.login_verify, name="login_verify"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("profile/", views.profile, name="profile"),
    path("profile/tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("profile/two-factor/", views.two_factor_setup, name="two_factor_setup"),
    path("profile/two-factor/off/", views.two_factor_disable, name="two_factor_disable"),
    path(
        "profile/two-factor/recovery-codes/",
        views.recovery_codes_regenerate,
        name="recovery_codes_regenerate",
    ),
    path("language/", views.set_language, name="set_language"),
    path("settings/", views.organisation, name="settings"),
]
