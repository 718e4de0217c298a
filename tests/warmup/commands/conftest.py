"""Helpers for command tests: run a command as an operator would and read what it printed."""

from io import StringIO

import pytest
from django.core.management import call_command


class Output:
    def __init__(self, stdout: str, stderr: str):
        self.stdout = stdout
        self.stderr = stderr

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def run(*args, **options) -> Output:
    stdout, stderr = StringIO(), StringIO()
    call_command(*args, stdout=stdout, stderr=stderr, **options)
    return Output(stdout.getvalue(), stderr.getvalue())


@pytest.fixture
def write_csv(tmp_path):
    """write_csv(text, name="data.csv", encoding="utf-8") -> path of the written file."""

    def write(text: str, name: str = "data.csv", encoding: str = "utf-8") -> str:
        path = tmp_path / name
        path.write_text(text, encoding=encoding)
        return str(path)

    return write
