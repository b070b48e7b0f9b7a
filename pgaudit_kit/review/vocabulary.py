"""The review commands' vocabularies: output formats, listing orders and the default page size. Kept apart
from the query and render modules (which load the database driver) so that the CLI declares its options, and
answers --help, --version and usage errors, without loading it."""

from __future__ import annotations

FORMATS = ("table", "json", "jsonl", "csv")
ORDERS = ("newest", "oldest")
DEFAULT_LIMIT = 50
