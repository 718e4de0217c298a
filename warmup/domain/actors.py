"""Who did something: a user, a bot or the system. Every audit row names its actor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "bot" | "system"
    user: Any = None
    bot: Any = None

    @classmethod
    def system(cls) -> Actor:
        return cls(kind="system")

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(kind="user", user=user)

    @classmethod
    def for_bot(cls, bot) -> Actor:
        return cls(kind="bot", bot=bot)

    def __str__(self):
        if self.kind == "user":
            return f"user:{self.user}"
        if self.kind == "bot":
            return f"bot:{self.bot}"
        return "system"


SYSTEM = Actor.system()
