"""The client's address, as the API rate limits and the admin login lockout count it."""

from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str:
    """REMOTE_ADDR, or with NUM_PROXIES (REST_FRAMEWORK) set to N, the address N entries from
    the end of X-Forwarded-For: the one the nearest of our own proxies saw. Entries further
    left come from the client and are not trusted. Works on Django's and DRF's requests."""
    return BaseThrottle().get_ident(request)
