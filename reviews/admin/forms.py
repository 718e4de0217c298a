"""What a reviewer fills in to act on an item: a reason code and a note to resolve, a category
and a note to recategorise, a note to comment, a reviewer to assign to. The services enforce
the same rules."""

from django import forms

from reviews.permissions import resolvers
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


class ReviewerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        name = user.get_full_name()
        return f"{user.get_username()} ({name})" if name else user.get_username()


class AssignForm(forms.Form):
    """A review lead's: assign to anyone who may resolve reviews (read when the form is drawn)."""

    assignee = ReviewerChoiceField(
        label="Assign to",
        queryset=None,  # who may resolve now: set per form
        empty_label="Choose a reviewer",
        help_text="Anyone who may resolve reviews.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = resolvers().order_by("username")
