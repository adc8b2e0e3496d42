"""Built-in detectors. Importing this package registers them (see `engine.registry`)."""

from aupguard.detectors import account, content, dlp, media, numbers, payload, spam, urls

__all__ = ["account", "content", "dlp", "media", "numbers", "payload", "spam", "urls"]
