"""CSV imports of accounts and content: parse and validate every row first, then write the
valid ones in one transaction through the services.

Shared by the `enroll_accounts` and `import_content` commands (and, later, the admin). Parsing
never writes; a file-level problem (no header, wrong columns) raises CsvFormatError, a bad row
becomes a RowError with its line number so the operator can fix the file.

  reader    the file, its header and its records (generic; nothing of the domain)
  accounts  platform,username rows enrolled on a plan
  content   phase_type,title,body[,media_url] rows added to the content pool
"""

from warmup.services.imports.accounts import AccountRow, import_accounts, parse_accounts
from warmup.services.imports.content import ContentRow, import_content, parse_content
from warmup.services.imports.reader import (
    CsvFormatError,
    ParseResult,
    RowError,
    read_records,
    read_text,
)

__all__ = [
    "AccountRow",
    "ContentRow",
    "CsvFormatError",
    "ParseResult",
    "RowError",
    "import_accounts",
    "import_content",
    "parse_accounts",
    "parse_content",
    "read_records",
    "read_text",
]
