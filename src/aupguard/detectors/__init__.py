"""Built-in detectors. Importing this package registers them (see `engine.registry`)."""

from aupguard.consent import detectors as consent
from aupguard.detectors import account, content, dlp, media, numbers, payload, spam, urls
from aupguard.enforcement import datasets as enforcement
from aupguard.traffic import detectors as traffic

__all__ = [
    "account",
    "consent",
    "content",
    "dlp",
    "enforcement",
    "media",
    "numbers",
    "payload",
    "spam",
    "traffic",
    "urls",
]
