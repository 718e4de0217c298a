"""What a reviewer fills in to act on an item: a reason code and a note to resolve, a category
and a note to recategorise, a note to comment. The services enforce the same rules."""

from django import forms

from warmup.domain.choices import ReasonCode
from warmup.models import FailureCategory

NOTE_HELP = "What you did, for the next reviewer: it is written to the item's review log."


def note_field() -> forms.CharField:
    return forms.CharField(
        max_length=5000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=NOTE_HELP,
    )


class ResolutionForm(forms.Form):
    reason_code = forms.ChoiceField(
        label="Reason", choices=[("", "Choose what fixed it"), *ReasonCode.choices]
    )
    note = note_field()


class RecategorizeForm(forms.Form):
    category = forms.ChoiceField(
        label="Correct category",
        choices=FailureCategory.choices,
        help_text="Analytics count the item under this category from now on.",
    )
    note = note_field()


class NoteForm(forms.Form):
    note = note_field()
