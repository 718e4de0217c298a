"""Failure signatures: the same problem with other numbers, hosts or ids is one signature;
another category or plan step is another."""

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warmup.domain.signatures import KEY_LENGTH, TITLE_LENGTH, normalise, signature_of
from warmup.models import FailureCategory

# Messages as bots write them, with a slot for each thing that varies between occurrences.
TEMPLATES = [
    "Proxy {ip}:{port} refused the connection",
    "Proxy {host}:{port} refused the connection",
    "Timed out after {n} s waiting for {url}",
    "Login for {email} rejected, request {uuid}",
    "Caption {quoted} was rejected by the platform",
    "HTTP {n} from {host} (trace {hexid})",
    "Upload of file {n} of {n} failed at {ip6}",
]

octet = st.integers(0, 255).map(str)
label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=10).filter(
    lambda s: not s.isdigit()
)
VALUES = {
    "ip": st.tuples(octet, octet, octet, octet).map(".".join),
    "ip6": st.lists(st.integers(0, 0xFFFF).map("{:x}".format), min_size=8, max_size=8).map(
        ":".join
    ),
    "port": st.integers(1, 65535).map(str),
    "host": st.tuples(label, label, st.sampled_from(["com", "net", "io", "example"])).map(".".join),
    "n": st.integers(0, 10**9).map(str),
    "url": st.tuples(st.sampled_from(["http", "https"]), label, label).map(
        lambda t: f"{t[0]}://{t[1]}.com/{t[2]}?id=7"
    ),
    "email": st.tuples(label, label).map(lambda t: f"{t[0]}@{t[1]}.com"),
    "uuid": st.uuids().map(str),
    "quoted": st.text(string.ascii_letters + " ", max_size=30).map(lambda s: f'"{s}"'),
    # A hash or a request id: hex digits with letters and digits (digits alone are a number).
    "hexid": st.text("0123456789abcdef", min_size=12, max_size=32).filter(
        lambda s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s)
    ),
}


@st.composite
def occurrences(draw):
    """One template filled twice with independently drawn values."""
    template = draw(st.sampled_from(TEMPLATES))

    def fill():
        # Each slot drawn anew where it appears, as in a real message.
        out, rest = [], template
        while "{" in rest:
            before, _, after = rest.partition("{")
            name, _, rest = after.partition("}")
            out += [before, draw(VALUES[name])]
        return "".join(out) + rest

    return fill(), fill()


categories = st.sampled_from(FailureCategory.values)
phase_types = st.sampled_from(["profile_bio", "avatar", "first_post", "follow_accounts"])


@given(pair=occurrences(), category=categories, phase_type=phase_types)
def test_the_same_message_with_other_values_has_the_same_signature(pair, category, phase_type):
    first, second = (
        signature_of(category=category, phase_type=phase_type, reason=reason) for reason in pair
    )
    assert first.key == second.key, pair
    assert first.title == second.title


@given(
    pair=occurrences(),
    categories=st.lists(categories, min_size=2, max_size=2, unique=True),
    phase_type=phase_types,
)
def test_another_category_never_shares_a_signature(pair, categories, phase_type):
    first, second = (
        signature_of(category=category, phase_type=phase_type, reason=pair[0])
        for category in categories
    )
    assert first.key != second.key


@given(
    reason=st.text(max_size=200),
    category=categories,
    types=st.lists(phase_types, min_size=2, max_size=2, unique=True),
    fingerprint=st.none() | st.text(min_size=1, max_size=50),
)
def test_another_plan_step_never_shares_a_signature(reason, category, types, fingerprint):
    first, second = (
        signature_of(category=category, phase_type=t, reason=reason, fingerprint=fingerprint)
        for t in types
    )
    assert first.key != second.key


@given(reason=st.text(max_size=5000), category=categories, phase_type=phase_types)
def test_any_reason_gives_a_key_and_a_bounded_title(reason, category, phase_type):
    signature = signature_of(category=category, phase_type=phase_type, reason=reason)
    assert len(signature.key) == KEY_LENGTH
    assert all(c in "0123456789abcdef" for c in signature.key)
    assert len(signature.title) <= TITLE_LENGTH
    assert signature.title.startswith(f"{category} on {phase_type}: ")


@pytest.mark.parametrize(
    ("reason", "normalised"),
    [
        ("Proxy 10.0.0.7:8080 refused the connection", "Proxy <ip>:<port> refused the connection"),
        ("Proxy px-3.pool.example.net:3128 refused", "Proxy <host>:<port> refused"),
        ("Login for rita@example.com at https://x.com/login?a=1", "Login for <email> at <url>"),
        ("Request 550e8400-e29b-41d4-a716-446655440000 failed", "Request <id> failed"),
        ('Caption "so happy today" rejected; can\'t post', "Caption <text> rejected; can't post"),
        ("Timed out   after 30.5 s\n(attempt 3)", "Timed out after <n> s (attempt <n>)"),
        ("trace deadbeef1234 from fe80::1:2:3", "trace <id> from <ip>"),
        ("at 12:30:45", "at <n>:<n>:<n>"),
        ("error code 0x1F", "error code <hex>"),
    ],
)
def test_what_varies_becomes_a_placeholder(reason, normalised):
    assert normalise(reason) == normalised


def test_case_and_whitespace_do_not_split_a_signature():
    loud = signature_of(category="bot_error", phase_type="avatar", reason="Upload  FAILED ")
    quiet = signature_of(category="bot_error", phase_type="avatar", reason="upload failed")
    assert loud.key == quiet.key


def test_a_fingerprint_stands_for_the_reason():
    """Two different messages with the bot's fingerprint are one signature; the same message
    with two fingerprints is two."""
    one = signature_of(category="bot_error", phase_type="avatar", reason="A", fingerprint="crop")
    two = signature_of(category="bot_error", phase_type="avatar", reason="B", fingerprint="crop")
    other = signature_of(category="bot_error", phase_type="avatar", reason="A", fingerprint="x")
    computed = signature_of(category="bot_error", phase_type="avatar", reason="A")
    blank = signature_of(category="bot_error", phase_type="avatar", reason="A", fingerprint=" ")
    assert one.key == two.key
    assert len({one.key, other.key, computed.key}) == 3
    assert blank.key == computed.key  # a blank fingerprint is no fingerprint


def test_the_title_reads_as_the_issue_describes():
    signature = signature_of(
        category="proxy_error",
        phase_type="profile_bio",
        reason="Proxy gate.example.net:3128 refused the connection",
    )
    assert (
        signature.title == "proxy_error on profile_bio: Proxy <host>:<port> refused the connection"
    )
