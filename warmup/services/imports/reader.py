"""Reading a CSV file for an import: the text, the header checked against the expected columns,
then one record (or one RowError with its line number) per data row.

Generic: it knows columns, not accounts or content, and imports nothing of the domain. A
file-level problem (not found, not UTF-8, no header, wrong columns, broken quoting) raises
CsvFormatError; a bad row becomes a RowError so the operator can fix the file.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

FILE_NOT_FOUND = "File {path} does not exist."
FILE_UNREADABLE = "Cannot read {path}: {error}."
FILE_NOT_UTF8 = "{path} is not UTF-8 text ({error}); save it as UTF-8 CSV."
FILE_EMPTY = "The file is empty; its first line must be the header: {expected}."
HEADER_MISSING = (
    "line {line}: the header lacks column(s) {missing}; the first line must be: {expected} "
    "(got {got!r})."
)
HEADER_UNKNOWN = "line {line}: unknown column(s) {unknown} in the header; expected: {expected}."
HEADER_DUPLICATE = "line {line}: column(s) {duplicate} appear more than once in the header."
CSV_MALFORMED = "line {line}: not valid CSV: {error}."
TOO_MANY_FIELDS = "expected at most {expected} fields, got {got}"
CONTROL_CHARACTER = "the {column} field contains a control character ({char!r})"


class CsvFormatError(Exception):
    """The file as a whole cannot be read as the expected CSV (nothing of it is imported)."""


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self):
        message = self.message
        # Service messages are sentences ("Unknown platform ..."); after "line N:" they read
        # better in lower case, unless they start with an acronym.
        first_word = message.split(" ", 1)[0]
        if first_word[:1].isupper() and (first_word[1:].islower() or len(first_word) == 1):
            message = message[0].lower() + message[1:]
        return f"line {self.line}: {message}"


@dataclass
class ParseResult:
    rows: list = field(default_factory=list)  # valid rows, ready to import
    errors: list[RowError] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.rows) + len(self.errors)


def read_text(path: str | Path) -> str:
    """The file's text, without a UTF-8 byte order mark. Raises CsvFormatError."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CsvFormatError(FILE_NOT_FOUND.format(path=path)) from None
    except UnicodeDecodeError as exc:
        raise CsvFormatError(FILE_NOT_UTF8.format(path=path, error=exc.reason)) from None
    except OSError as exc:
        raise CsvFormatError(FILE_UNREADABLE.format(path=path, error=exc.strerror)) from None


def _lines(source: str | Iterable[str]) -> Iterable[str]:
    if isinstance(source, str):
        return io.StringIO(source.removeprefix("\ufeff"), newline="")
    return source


def read_records(
    source: str | Iterable[str], *, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str] | None, RowError | None]]:
    """Yield (line, {column: stripped value}, None) per data row, or (line, None, RowError) for
    a row of the wrong shape. Blank lines are skipped. Raises CsvFormatError for the header."""
    expected = ",".join(columns)
    reader = csv.reader(_lines(source), strict=True)
    try:
        header, header_line = None, 0
        for row in reader:
            if any(cell.strip() for cell in row):
                header, header_line = row, reader.line_num
                break
        if header is None:
            raise CsvFormatError(FILE_EMPTY.format(expected=expected))
        names = [cell.strip().removeprefix("\ufeff").strip().lower() for cell in header]
        _check_header(names, header, line=header_line, columns=columns, optional=optional)

        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(names):
                got = len(row)
                yield (
                    line,
                    None,
                    RowError(line, TOO_MANY_FIELDS.format(expected=len(names), got=got)),
                )
                continue
            values = {name: "" for name in columns}
            values.update({name: cell.strip() for name, cell in zip(names, row, strict=False)})
            bad = _control_character(values)
            if bad is not None:
                yield (
                    line,
                    None,
                    RowError(line, CONTROL_CHARACTER.format(column=bad[0], char=bad[1])),
                )
                continue
            yield line, values, None
    except csv.Error as exc:
        raise CsvFormatError(CSV_MALFORMED.format(line=reader.line_num, error=exc)) from None


def _control_character(values: dict[str, str]) -> tuple[str, str] | None:
    """The first (column, character) that is a control character other than a line break or
    tab: a NUL or an escape in a CSV is corruption, and PostgreSQL refuses NUL in text."""
    for column, value in values.items():
        for char in value:
            if (ord(char) < 32 and char not in "\n\r\t") or ord(char) == 127:
                return column, char
    return None


def _check_header(names, header, *, line, columns, optional) -> None:
    expected = ",".join(columns)
    missing = [c for c in columns if c not in names and c not in optional]
    if missing:
        raise CsvFormatError(
            HEADER_MISSING.format(
                line=line, missing=", ".join(missing), expected=expected, got=",".join(header)
            )
        )
    unknown = [n for n in names if n not in columns]
    if unknown:
        raise CsvFormatError(
            HEADER_UNKNOWN.format(
                line=line, unknown=", ".join(map(repr, unknown)), expected=expected
            )
        )
    duplicate = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicate:
        raise CsvFormatError(HEADER_DUPLICATE.format(line=line, duplicate=", ".join(duplicate)))
