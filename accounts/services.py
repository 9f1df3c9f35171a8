"""Writes and business rules for users and their login state."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import authenticate, password_validation, user_logged_in
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import User
from accounts.roles import Role
from accounts.tokens import TenantRefreshToken
from core.problems import Conflict, InvalidInput, ServiceError

logger = logging.getLogger("accounts")


class InvalidCredentials(ServiceError):
    status_code = 401
    code = "invalid_credentials"
    title = "Invalid credentials"


class LastActiveAdmin(Conflict):
    title = "Last active admin"


def auth_login(*, request: HttpRequest, email: str, password: str) -> tuple[User, TenantRefreshToken]:
    """Check credentials (axes counts failures) and issue a tenant-bound token pair.

    The plain Django request goes to ``authenticate`` so that django-axes can
    record the attempt and flag a lockout for its middleware to answer.
    """
    user = authenticate(request, username=email, password=password)
    if user is None or not user.is_active:
        # One message whether or not the email exists.
        raise InvalidCredentials("No active account found with the given credentials.")
    user_logged_in.send(sender=User, request=request, user=user)
    logger.info("auth.login user_id=%s", user.pk)
    return user, TenantRefreshToken.for_user(user)


def _validate_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput("The password is too weak.", errors={"password": list(exc.messages)}) from exc


def _email_taken(email: str, *, exclude_id: Any = None) -> bool:
    return User.objects.filter(email__iexact=email).exclude(pk=exclude_id).exists()


def user_create(*, email: str, password: str, role: str, first_name: str = "", last_name: str = "") -> User:
    """Create a tenant user. A duplicate email (any case) is a conflict."""
    email = User.objects.normalize_email(email)
    user = User(email=email, role=role, first_name=first_name, last_name=last_name)
    _validate_password(password, user)
    if _email_taken(email):
        raise Conflict("A user with this email already exists.")
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent create won the race
        raise Conflict("A user with this email already exists.") from exc
    logger.info("user.created user_id=%s role=%s", user.pk, role)
    return user


def _ensure_admin_remains(user: User, *, new_role: str, new_active: bool) -> None:
    """Refuse to demote or deactivate the tenant's last active TENANT_ADMIN."""
    stays_admin = new_role == Role.TENANT_ADMIN and new_active
    if user.role != Role.TENANT_ADMIN or not user.is_active or stays_admin:
        return
    others = User.objects.select_for_update().filter(role=Role.TENANT_ADMIN, is_active=True).exclude(pk=user.pk)
    if not others.exists():
        raise LastActiveAdmin("The tenant must keep at least one active TENANT_ADMIN.")


def user_update(*, user: User, data: dict[str, Any]) -> User:
    """Change names, role, activation or password; ends sessions when deactivated."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        new_role = data.get("role", user.role)
        new_active = data.get("is_active", user.is_active)
        _ensure_admin_remains(user, new_role=new_role, new_active=new_active)
        if "email" in data:
            email = User.objects.normalize_email(data["email"])
            if _email_taken(email, exclude_id=user.pk):
                raise Conflict("A user with this email already exists.")
            user.email = email
        for field in ("first_name", "last_name", "role", "is_active"):
            if field in data:
                setattr(user, field, data[field])
        if data.get("password"):
            _validate_password(data["password"], user)
            user.set_password(data["password"])
        user.save()
        if not user.is_active or data.get("password"):
            user_logins_end(user=user)
    logger.info("user.updated user_id=%s fields=%s", user.pk, ",".join(sorted(data)))
    return user


def user_delete(*, user: User) -> None:
    """Delete a user; their tokens and admin sessions end with them."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        _ensure_admin_remains(locked, new_role=locked.role, new_active=False)
        user_logins_end(user=locked)
        locked.delete()
    logger.info("user.deleted user_id=%s", user.pk)


def user_logins_end(*, user: User) -> None:
    """End every token issued to ``user`` so far, and their admin sessions.

    Moving ``token_generation`` on revokes every access and refresh token issued
    before (authentication and refresh compare it on every use, in every process);
    the refresh tokens are also blacklisted, so that the token list says so.
    """
    User.objects.filter(pk=user.pk).update(token_generation=F("token_generation") + 1)
    user.refresh_from_db(fields=["token_generation"])
    outstanding = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now())
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    user_id = str(user.pk)
    stale = [s.session_key for s in Session.objects.filter(expire_date__gt=timezone.now())
             if s.get_decoded().get("_auth_user_id") == user_id]
    Session.objects.filter(session_key__in=stale).delete()
