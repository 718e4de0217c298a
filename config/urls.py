from django.contrib import admin
from django.urls import include, path, re_path, register_converter
from django.views.generic import RedirectView

from config.api.schema import DocsView, SchemaView
from config.converters import DatabaseIdConverter
from config.monitoring import metrics_view
from config.views import not_found
from reviews.admin.dashboard import dashboard_live_view, dashboard_view

register_converter(DatabaseIdConverter, "id")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # Before the admin's own URLs, which would answer 404 for it; admin_view asks for a staff
    # login like any admin page (the view itself checks the review permission).
    path(
        "admin/reviews/dashboard/",
        admin.site.admin_view(dashboard_view),
        name="reviews-dashboard",
    ),
    path(
        "admin/reviews/dashboard/live/",
        admin.site.admin_view(dashboard_live_view),
        name="reviews-dashboard-live",
    ),
    path("admin/", admin.site.urls),
    # Prometheus scrapes this (behind METRICS_TOKEN when it is set).
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/bot/", include("warmup.api.urls")),
    path("api/v1/reviews/", include("reviews.api.urls")),
    # Both check a token they are sent: limited as the APIs (config.api.schema).
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", DocsView.as_view(url_name="schema"), name="swagger-ui"),
    # Anything else under /api/ is a JSON 404, also while DEBUG is on.
    re_path(r"^api/", not_found),
]

handler400 = "config.views.bad_request"
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
