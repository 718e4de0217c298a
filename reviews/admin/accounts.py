"""Accounts' review actions: pausing and reactivating accounts from the accounts page.

Account status changes are review events: they need the resolve permission and a note, and go
through the account services (one ReviewLog row each). The review side extends the accounts
page of warmup.admin with them, so the warmup admin knows nothing of reviews.
"""

from django import forms
from django.contrib import admin

from config.admin import confirm_action
from reviews.permissions import can_resolve_reviews
from warmup.actors import Actor
from warmup.admin import AccountAdmin
from warmup.errors import DomainError, InvalidTransition
from warmup.models import Account
from warmup.services.accounts import account_pause, account_reactivate


class AccountStatusNoteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why: it is written to each account's review log.",
    )


def _why_not(exc: DomainError) -> str:
    if isinstance(exc, InvalidTransition):
        return f"it is {exc.current_status}"
    return exc.message


def _with_status(account: Account) -> str:
    return f"{account} \N{EM DASH} now {account.get_status_display().lower()}"


admin.site.unregister(Account)


@admin.register(Account)
class AccountReviewAdmin(AccountAdmin):
    actions = ["pause_accounts", "reactivate_accounts"]

    def has_resolve_permission(self, request):
        return can_resolve_reviews(request.user)

    @confirm_action(
        description="Pause automation of the selected accounts",
        title="Pause automation for {count} {noun}",
        button="Pause",
        done="Paused",
        noun=("account", "accounts"),
        form_class=AccountStatusNoteForm,
        intro="Nothing of these accounts is claimed until they are reactivated. "
        "Each pause is written to the account's review log with your note.",
        describe=_with_status,
        explain=_why_not,
        permissions=["resolve"],
    )
    def pause_accounts(self, request, account, data):
        account_pause(account=account, actor=Actor.for_user(request.user), note=data["note"])

    @confirm_action(
        description="Reactivate the selected (suspended or paused) accounts",
        title="Reactivate {count} {noun}",
        button="Reactivate",
        done="Reactivated",
        noun=("account", "accounts"),
        form_class=AccountStatusNoteForm,
        intro="Their phases can be claimed by bots again. "
        "Each reactivation is written to the account's review log with your note.",
        describe=_with_status,
        explain=_why_not,
        permissions=["resolve"],
    )
    def reactivate_accounts(self, request, account, data):
        account_reactivate(account=account, actor=Actor.for_user(request.user), note=data["note"])
