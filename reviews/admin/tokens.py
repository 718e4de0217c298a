"""API tokens for the review API: each reviewer makes and sees their own; a superuser sees
everyone's. (DRF's own token page lets anyone with the permission make a token for anyone.)"""

from django.contrib import admin
from rest_framework.authtoken import admin as drf_token_admin
from rest_framework.authtoken.models import Token, TokenProxy

admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class OwnTokenAdmin(drf_token_admin.TokenAdmin):
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
