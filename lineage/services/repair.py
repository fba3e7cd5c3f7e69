"""``lineage log repair``: rebuild a damaged META or HEAD of the embedded log."""

from __future__ import annotations

from typing import Any

from lineage.errors import ConfigError, LineageError


def repair(app: Any) -> list[str]:
    from lineage.log.file import repair as repair_files

    settings = app.settings
    if settings.log != "file":
        raise ConfigError(f"`lineage log repair` mends the embedded log, not {settings.log}")
    app.require_home()
    return repair_files(
        settings.log_dir, log_id=_projected_log_id(app), lock_timeout=settings.lock_timeout
    )


def _projected_log_id(app: Any) -> str | None:
    """The log id the home's projection was built from: a META that lost its id gets it
    back, so the projection resumes instead of being rebuilt."""
    import duckdb

    from lineage.projection.store import Store

    path = app.settings.projection_path
    if not path.is_file():
        return None
    try:
        with Store(path, read_only=True) as store:
            return store.meta("log_id") if store.meta("log_kind") == "file" else None
    except (LineageError, OSError, duckdb.Error):  # a damaged projection has no say
        return None
