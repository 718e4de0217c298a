"""Outside the domain: the demo (seed and stories) and the bot simulator (HTTP only)."""
