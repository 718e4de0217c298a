"""The admin login lockout's own pages (django-axes): who is locked out, and clearing what has
expired. Axes' "Clean up expired attempts" action reads the moment of a login attempt from the
request, which only a login sets, so from the admin it failed with a 500; here it runs with the
moment of the click."""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.utils import timezone


class LockoutAttemptAdmin(AccessAttemptAdmin):
    @admin.action(description="Clean up expired attempts")
    def cleanup_expired_attempts(self, request, queryset):
        request.axes_attempt_time = timezone.now()
        super().cleanup_expired_attempts(request, queryset)


admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, LockoutAttemptAdmin)
