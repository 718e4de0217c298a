"""Importing accounts: validate every row of a platform,username CSV against a plan (including
duplicates within the file and accounts already enrolled), then enrol the valid rows in one
transaction through `account_enrol`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from warmup.domain.errors import USERNAME_TAKEN, InvalidInput
from warmup.models import Account, WarmupPlan
from warmup.services.accounts import account_enrol, validate_enrolment
from warmup.services.imports.reader import ParseResult, RowError, read_records

ACCOUNT_COLUMNS = ("platform", "username")
DUPLICATE_ACCOUNT = "{platform}:{username} is a duplicate of line {line}"


@dataclass(frozen=True)
class AccountRow:
    line: int
    platform: str
    username: str


def parse_accounts(source: str | Iterable[str], *, plan: WarmupPlan) -> ParseResult:
    """Validate an accounts CSV (platform,username) against `plan`; writes nothing."""
    result = ParseResult()
    candidates: list[AccountRow] = []
    seen: dict[tuple[str, str], int] = {}
    for line, values, error in read_records(source, columns=ACCOUNT_COLUMNS):
        if error is not None:
            result.errors.append(error)
            continue
        platform = values["platform"].lower()
        try:
            username = validate_enrolment(platform=platform, username=values["username"], plan=plan)
        except InvalidInput as exc:
            result.errors.append(RowError(line, exc.message))
            continue
        key = (platform, username)
        if key in seen:
            message = DUPLICATE_ACCOUNT.format(platform=platform, username=username, line=seen[key])
            result.errors.append(RowError(line, message))
            continue
        seen[key] = line
        candidates.append(AccountRow(line=line, platform=platform, username=username))

    enrolled = _enrolled(candidates)
    for row in candidates:
        if (row.platform, row.username) in enrolled:
            message = USERNAME_TAKEN.format(platform=row.platform, username=row.username)
            result.errors.append(RowError(row.line, message))
        else:
            result.rows.append(row)
    result.errors.sort(key=lambda e: e.line)
    return result


def _enrolled(rows: list[AccountRow]) -> set[tuple[str, str]]:
    found = set()
    usernames = sorted({row.username for row in rows})
    for i in range(0, len(usernames), 500):  # stay under SQLite's parameter limit
        found.update(
            Account.objects.filter(username__in=usernames[i : i + 500]).values_list(
                "platform", "username"
            )
        )
    return found


@transaction.atomic
def import_accounts(rows: list[AccountRow], *, plan: WarmupPlan) -> list[Account]:
    """Enrol every row on `plan`, all or nothing (each through `account_enrol`)."""
    return [account_enrol(platform=row.platform, username=row.username, plan=plan) for row in rows]
