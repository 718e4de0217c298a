from django.contrib.admin.apps import AdminConfig


class WarmupAdminConfig(AdminConfig):
    """Django's admin with this project's site (title, the review side first)."""

    default_site = "config.admin.WarmupAdminSite"
