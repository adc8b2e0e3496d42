"""Identity: sender and caller-id ownership, STIR/SHAKEN, and the call-side checks
(emergency numbers, recording consent, call caps, sanctioned destinations).

Names are imported lazily, so that the detectors can use the small modules
(numbering, datasets, senderid) without loading the service layer.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "AccountProfile": "registry",
    "CallScreener": "service",
    "CallScreening": "service",
    "CertificateCache": "certs",
    "CertificateFetcher": "certs",
    "ConcurrencyGauge": "gauges",
    "EvidenceKind": "registry",
    "MemoryGauge": "gauges",
    "MemorySenderRegistry": "registry",
    "Reason": "passport",
    "RegistrationError": "service",
    "Revocations": "certs",
    "SenderRecord": "registry",
    "SenderRegistry": "registry",
    "SenderSource": "service",
    "ShakenSigner": "service",
    "ShakenSource": "service",
    "ShakenVerifier": "verify",
    "SqlSenderRegistry": "sql",
    "TrustStore": "certs",
    "Verification": "verify",
    "confirm_verification": "service",
    "identity_header": "passport",
    "normalise_sender": "numbering",
    "parse_identity_header": "passport",
    "record_evidence": "service",
    "register_sender": "service",
    "revoke_sender": "service",
    "set_profile": "service",
    "sign_passport": "passport",
    "start_verification": "service",
}

__all__ = [
    "AccountProfile",
    "CallScreener",
    "CallScreening",
    "CertificateCache",
    "CertificateFetcher",
    "ConcurrencyGauge",
    "EvidenceKind",
    "MemoryGauge",
    "MemorySenderRegistry",
    "Reason",
    "RegistrationError",
    "Revocations",
    "SenderRecord",
    "SenderRegistry",
    "SenderSource",
    "ShakenSigner",
    "ShakenSource",
    "ShakenVerifier",
    "SqlSenderRegistry",
    "TrustStore",
    "Verification",
    "confirm_verification",
    "identity_header",
    "normalise_sender",
    "parse_identity_header",
    "record_evidence",
    "register_sender",
    "revoke_sender",
    "set_profile",
    "sign_passport",
    "start_verification",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aupguard.identity' has no attribute {name!r}")
    return getattr(import_module(f"aupguard.identity.{module}"), name)
