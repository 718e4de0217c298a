"""MkDocs hooks (mkdocs.yml `hooks:`): the generated pages are rendered from the code at every
build (scripts/docs_pages.py), never kept in the repository, so they cannot go stale; and a
build that would make a browser fetch anything from another host fails."""

from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

sys.path.insert(0, str(Path(__file__).resolve().parent))

import docs_pages  # noqa: E402


def on_files(files, config):
    docs_pages.setup_django()
    for path, content in docs_pages.pages().items():
        existing = files.get_file_from_path(path)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, path, content=content))
    return files


def on_post_build(config):
    found = docs_pages.fetched_from_elsewhere(Path(config["site_dir"]))
    if found:
        raise PluginError(
            "The site would fetch these from other hosts (nothing may come from a CDN):\n"
            + "\n".join(found)
        )
