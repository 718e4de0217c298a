"""API tokens for the review API: each reviewer makes and sees their own; a superuser sees
everyone's. (DRF's own token page lets anyone with the permission make a token for anyone.)

A key is shown once, on a page of its own right after it is made, as a bot's token is. DRF's
admin shows keys on every visit: a token's name and primary key *are* its key, so its list,
its page, its history, its messages and the admin's "recent actions" would all carry it. Here a
token is named by its owner ("API token of ana") and reached by its owner's id; it has nothing
to change, so its page and history lead back to the list, and revoking is deleting it.
"""

import json

from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, DELETION, LogEntry
from django.contrib.admin.options import get_content_type_for_model
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from rest_framework.authtoken import admin as drf_token_admin
from rest_framework.authtoken.models import Token, TokenProxy

admin.site.unregister(TokenProxy)

ONE_TIME_TEMPLATE = "admin/authtoken/tokenproxy/token.html"


class TokenLabel:
    """What the admin shows for a token: its owner, and its owner's id as the key of its pages."""

    def __init__(self, token: Token):
        self.pk = token.user_id
        self.text = f"API token of {token.user}"

    def __str__(self):
        return self.text


@admin.register(TokenProxy)
class OwnTokenAdmin(drf_token_admin.TokenAdmin):
    list_display = ("owner", "created", "revoke")
    list_display_links = None

    def get_queryset(self, request):
        tokens = super().get_queryset(request).select_related("user")
        return tokens if request.user.is_superuser else tokens.filter(user=request.user)

    def get_fields(self, request, obj=None):
        return ("user",) if request.user.is_superuser else ()

    def has_add_permission(self, request):
        if not super().has_add_permission(request):
            return False
        return request.user.is_superuser or not Token.objects.filter(user=request.user).exists()

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.user = request.user
        super().save_model(request, obj, form, change)

    # The list --------------------------------------------------------------------------------

    @admin.display(description="owner", ordering="user__username")
    def owner(self, token):
        return token.user.get_username()

    @admin.display(description="")
    def revoke(self, token):
        url = reverse("admin:authtoken_tokenproxy_delete", args=[token.user_id])
        return format_html('<a href="{}">Revoke</a>', url)

    # Shown once ------------------------------------------------------------------------------

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": f"{TokenLabel(obj)} created",
            "token": obj.key,
            "opts": self.opts,
        }
        response = TemplateResponse(request, ONE_TIME_TEMPLATE, context)
        add_never_cache_headers(response)
        return response

    # Never again: no page, history, message or admin log entry names the key ---------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:authtoken_tokenproxy_changelist"))

    def history_view(self, request, object_id, extra_context=None):
        return HttpResponseRedirect(reverse("admin:authtoken_tokenproxy_changelist"))

    def delete_view(self, request, object_id, extra_context=None):
        token = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if token is not None:
            request.token_label = context["object"] = TokenLabel(token)
        return super().delete_view(request, object_id, context)

    def get_deleted_objects(self, objs, request):
        labels = [str(TokenLabel(token)) for token in objs]
        return labels, {self.opts.verbose_name_plural: len(labels)}, set(), []

    def response_delete(self, request, obj_display, obj_id):
        self.message_user(request, f"Revoked the {request.token_label}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:authtoken_tokenproxy_changelist"))

    def log_addition(self, request, obj, message):
        return self._log(request, obj, ADDITION, message)

    def log_deletions(self, request, queryset):
        for token in queryset:
            self._log(request, token, DELETION, "")

    def _log(self, request, token, flag, message):
        return LogEntry.objects.create(
            user_id=request.user.pk,
            content_type_id=get_content_type_for_model(token).pk,
            object_id=str(token.user_id),
            object_repr=str(TokenLabel(token)),
            action_flag=flag,
            change_message=message if isinstance(message, str) else json.dumps(message),
        )
