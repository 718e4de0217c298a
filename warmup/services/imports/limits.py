"""The column limits an imported row must fit, read from the model's fields (one place), so a
value too long for its column is a row error with its line number, in a dry run too, rather
than a database DataError halfway through the import."""

from __future__ import annotations

from django.db import models

TOO_LONG = "the {field} is {length:,} characters long; at most {limit:,} fit"


def too_long(model: type[models.Model], values: dict[str, str]) -> str | None:
    """The message for the first of `values` ({field name: value}) longer than its field's
    max_length on `model`, or None when every value fits."""
    for name, value in values.items():
        limit = model._meta.get_field(name).max_length
        if limit is not None and len(value or "") > limit:
            return TOO_LONG.format(field=name, length=len(value), limit=limit)
    return None
