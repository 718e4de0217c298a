"""The client's address, as the API rate limits and the admin login lockout count it."""

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str:
    """REMOTE_ADDR, or with NUM_PROXIES (REST_FRAMEWORK) set to N, the address N entries from
    the end of X-Forwarded-For: the one the nearest of our own proxies saw. Entries further
    left come from the client and are not trusted. Works on Django's and DRF's requests."""
    if api_settings.NUM_PROXIES == 0:
        # DRF's answer, without building request.headers from every header first (it reads
        # X-Forwarded-For there even when it then ignores it): every API request asks this.
        return request.META.get("REMOTE_ADDR")
    return BaseThrottle().get_ident(request)
