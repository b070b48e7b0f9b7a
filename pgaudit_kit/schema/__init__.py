"""The kit's schema in a database: the sql/ sources and their order, Alembic revisions, what each revision
shipped, and install / upgrade / uninstall."""
