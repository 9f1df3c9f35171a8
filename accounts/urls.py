from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/login", api.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", api.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("auth/profile", api.ProfileView.as_view(), name="auth-profile"),
    path("users", api.UserListView.as_view(), name="user-list"),
    path("users/<uuid:user_id>", api.UserDetailView.as_view(), name="user-detail"),
]
