"""URL converters."""


class DatabaseIdConverter:
    """A positive integer that fits a bigint primary key; longer numbers simply do not match
    (404), instead of overflowing the database column (a 500)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)
