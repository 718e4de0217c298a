"""API tokens for the review API: each reviewer makes and sees their own; a superuser sees
everyone's and may make one for anyone.

A key is shown once, on a page of its own right after it is made, as a bot's token is: only
its prefix and a hash are stored (warmup.services.tokens), so no page, list, search, filter,
ordering, message or history can show it again. A token is named by its owner ("API token of
ana"); it has nothing to change, so its page leads back to the list, and revoking is deleting it.
"""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from reviews.models import ApiToken
from warmup.domain.errors import InvalidInput
from warmup.services.tokens import api_token_create

ONE_TIME_TEMPLATE = "admin/reviews/apitoken/token.html"
LIST = "admin:reviews_apitoken_changelist"
ADD_HELP = "Its key is shown once, on the next page; only a hash of it is kept."


@admin.register(ApiToken)
class OwnTokenAdmin(admin.ModelAdmin):
    list_display = ("owner", "created", "revoke")
    list_display_links = None
    # `?q=` looks for owners; the list has no filter, so the site's GuardedAdmin answers any
    # lookup in the address (`?token_prefix__startswith=...`) with `?e=1`.
    search_fields = ("user__username",)
    search_help_text = "Owner's username"
    ordering = ("user__username",)
    actions = None

    def get_queryset(self, request):
        tokens = super().get_queryset(request).select_related("user")
        return tokens if request.user.is_superuser else tokens.filter(user=request.user)

    def get_fields(self, request, obj=None):
        return ("user",) if request.user.is_superuser else ()

    def has_add_permission(self, request):
        if not super().has_add_permission(request):
            return False
        return request.user.is_superuser or not ApiToken.objects.filter(user=request.user).exists()

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        owner = obj.user if request.user.is_superuser else request.user
        token, request.api_token_key = api_token_create(user=owner)
        obj.pk, obj.user, obj.created_at = token.pk, token.user, token.created_at

    # The list --------------------------------------------------------------------------------

    @admin.display(description="owner", ordering="user__username")
    def owner(self, token):
        return token.user.get_username()

    @admin.display(description="created", ordering="created_at")
    def created(self, token):
        return token.created_at

    @admin.display(description="")
    def revoke(self, token):
        url = reverse("admin:reviews_apitoken_delete", args=[token.pk])
        return format_html('<a href="{}">Revoke</a>', url)

    # Shown once, never again -----------------------------------------------------------------

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": f"{obj} created",
            "token": request.api_token_key,
            "opts": self.opts,
        }
        response = TemplateResponse(request, ONE_TIME_TEMPLATE, context)
        add_never_cache_headers(response)
        return response

    def changelist_view(self, request, extra_context=None):
        context = {"title": "API tokens", **(extra_context or {})}
        return super().changelist_view(request, context)

    def add_view(self, request, form_url="", extra_context=None):
        whose = "Whose token is it? " if request.user.is_superuser else ""
        context = {"subtitle": f"{whose}{ADD_HELP}", **(extra_context or {})}
        try:
            return super().add_view(request, form_url, context)
        except InvalidInput as exc:  # made meanwhile by another request (a double click)
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(reverse(LIST))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # One token per user, and nothing to see or change after: one button.
        context.update(show_save_and_add_another=False, show_save_and_continue=False)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse(LIST))

    def response_delete(self, request, obj_display, obj_id):
        self.message_user(request, f"Revoked the {obj_display}.")
        return HttpResponseRedirect(reverse(LIST))
