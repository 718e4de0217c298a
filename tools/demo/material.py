"""The fixed material of the demo: bots, reviewers, content, what bots report, usernames."""

DEMO_BOTS = ["phone-farm-01", "phone-farm-02", "cloud-runner-eu", "cloud-runner-us"]

# username, first name, last name. Reviewers act in the history; they cannot log in.
DEMO_REVIEWERS = [("maria.santos", "Maria", "Santos"), ("tom.becker", "Tom", "Becker")]

MEDIA = "https://example.com/media"
CONTENT = {
    "profile_bio": [
        ("Coffee & film", "Coffee first, then everything else.\nShooting 35mm around Lisbon.", ""),
        ("Home baker", "Sourdough nerd | weekend bakes and recipes | Berlin", ""),
        (
            "Trail runner",
            "Chasing sunrises on the trails. Ultra #3 loading. Tips every Tuesday.",
            "",
        ),
        ("Plant shelf", "120+ houseplants and counting. Propagation tips, honest reviews.", ""),
        ("Vintage finds", "Thrifted and restored furniture. Before/after every Friday.", ""),
    ],
    "avatar": [
        ("Portrait, warm light", "", f"{MEDIA}/avatars/portrait-warm-01.jpg"),
        ("Logo mark on cream", "", f"{MEDIA}/avatars/logo-cream-02.png"),
        ("Outdoor portrait with bike", "", f"{MEDIA}/avatars/bike-portrait-03.jpg"),
        ("Illustrated avatar", "", f"{MEDIA}/avatars/illustrated-04.png"),
    ],
    "first_post": [
        (
            "Morning bake",
            "First loaf of the week came out just right. Recipe in the comments "
            "#sourdough #homebaking",
            f"{MEDIA}/posts/morning-bake.jpg",
        ),
        (
            "Sunrise run",
            "5:40 alarm, zero regrets. Where do you run while the city still sleeps? #trailrunning",
            f"{MEDIA}/posts/sunrise-run.jpg",
        ),
        (
            "Shelf tour",
            "Finally finished the plant shelf! Which one should I repot first? #plantlife",
            f"{MEDIA}/posts/shelf-tour.jpg",
        ),
        (
            "Sideboard before/after",
            "Found this 1960s sideboard for 20 euros. Two weekends later... swipe for the before.",
            f"{MEDIA}/posts/sideboard-before-after.jpg",
        ),
    ],
    "first_story": [
        (
            "Behind the scenes",
            "Packing orders today. Poll: what should we make next?",
            f"{MEDIA}/stories/bts-packing.mp4",
        ),
        ("Q&A sticker", "Ask me anything about getting started", f"{MEDIA}/stories/qa-sticker.jpg"),
        ("Coffee poll", "Flat white or cortado?", f"{MEDIA}/stories/coffee-poll.jpg"),
        ("Weekend teaser", "Something new drops Saturday", f"{MEDIA}/stories/teaser.mp4"),
    ],
}

# What bots report, per failure category: (reason, details). {platform} is the platform's name.
FAILURES = {
    "challenge_required": (
        "{platform} asks for a 6-digit security code sent by SMS to the phone on file",
        {"step": "login", "challenge": "sms", "screenshot": "https://example.com/screens/sms.png"},
    ),
    "login_failed": (
        "Login rejected: 'The password you entered is incorrect.'",
        {"step": "login", "http_status": 400, "attempts": 2},
    ),
    "rate_limited": (
        "HTTP 429 Too Many Requests on the profile edit endpoint (retry-after 900 s)",
        {"http_status": 429, "retry_after": 900, "endpoint": "/accounts/edit"},
    ),
    "proxy_error": (
        "Proxy res-de-17.example.net:8080 refused the connection (ECONNREFUSED)",
        {"proxy": "res-de-17.example.net:8080", "errno": "ECONNREFUSED"},
    ),
    "network_error": (
        "Read timed out after 30 s while uploading media",
        {"timeout_s": 30, "stage": "upload"},
    ),
    "content_rejected": (
        "{platform} removed the post at once: 'This goes against our Community Guidelines'",
        {"moderation": "spam", "removed_after_s": 4},
    ),
    "account_suspended": (
        "{platform} shows 'Your account has been disabled for violating our terms' after login",
        {"step": "login", "appeal_url": "https://example.com/appeal"},
    ),
    "action_blocked": (
        "Action blocked: 'We restrict certain activity to protect our community'",
        {"action": "follow", "follows_done": 3},
    ),
    "unknown": (
        "Unexpected screen after tapping Save; none of the known elements were found",
        {"screen": "EditProfileActivity", "screenshot": "https://example.com/screens/odd.png"},
    ),
    "bot_error": (
        "Bot crashed: KeyError 'edit_profile_button' in step set_bio",
        {"bot_version": "1.4.2", "exception": "KeyError"},
    ),
}

USERNAME_FIRST = (
    "luna milo nova kai ivy leo zara finn maya otto ruby theo cleo jude nora ezra lila omar"
).split()
USERNAME_SECOND = (
    "bakes travels fit studio eats daily lens garden crafts runs reads beats vintage coffee "
    "plants builds"
).split()
