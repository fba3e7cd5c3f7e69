"""Open the log backend the settings name."""

from __future__ import annotations

from lineage.config import Settings
from lineage.errors import ConfigError
from lineage.log.base import Log


def open_log(settings: Settings, *, create: bool = False) -> Log:
    if settings.log == "file":
        from lineage.log.file import FileLog

        return FileLog(
            settings.log_dir,
            create=create,
            lock_timeout=settings.lock_timeout,
            segment_bytes=settings.segment_bytes,
        )
    raise ConfigError(f"log backend {settings.log!r} is not available")
