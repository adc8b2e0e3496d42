"""Tamper-evident audit log: a hash chain with Ed25519-signed checkpoints, and its verifier."""

from aupguard.audit.chain import PLATFORM, AuditDraft, AuditEntry
from aupguard.audit.keys import Signer, generate_key_file, load_signer
from aupguard.audit.log import AuditLog, Checkpoint, MemoryAuditLog
from aupguard.audit.verify import VerifyResult, verify_chain, verify_log

__all__ = [
    "PLATFORM",
    "AuditDraft",
    "AuditEntry",
    "AuditLog",
    "Checkpoint",
    "MemoryAuditLog",
    "Signer",
    "VerifyResult",
    "generate_key_file",
    "load_signer",
    "verify_chain",
    "verify_log",
]
