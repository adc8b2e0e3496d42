"""How API keys are checked on every request: keyed digests against argon2.

Per-call cost of verifying a presented key secret (32 random bytes, base64url)
against its stored form: HMAC-SHA256 with a pepper (what aupguard stores),
keyed BLAKE2b, and argon2id (argon2-cffi's default parameters, the usual choice
for passwords). Also the whole `KeyManager.authenticate` on a cache hit and on a
miss that reads the SQLite store. Baseline: `hmac.compare_digest` of two
32-byte digests. Interleaved passes.

    .venv/bin/python -m bench.http_keys
"""

from __future__ import annotations

import hashlib
import hmac
import tempfile
from pathlib import Path

from argon2 import PasswordHasher

from aupguard.actors import Actor, Role
from aupguard.api.keys import KeyManager, MemoryKeyStore
from aupguard.api.keys_sql import SqlKeyStore
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from bench.common import interleaved, report, summary


def main() -> None:
    operator = Actor("bench", frozenset({Role.ADMIN}))
    pepper = b"bench-pepper-0123456789"
    memory = KeyManager(MemoryKeyStore(), pepper, cache_seconds=3600)
    issued = memory.issue(operator, "bench", ["send"])
    secret = issued.secret.rsplit("_", 1)[1]
    stored_hmac = hmac.new(pepper, secret.encode(), hashlib.sha256).digest()
    stored_blake = hashlib.blake2b(secret.encode(), key=pepper, digest_size=32).digest()
    hasher = PasswordHasher()
    stored_argon = hasher.hash(secret)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'keys.sqlite'}")
        upgrade(db)
        sql = KeyManager(SqlKeyStore(db), pepper, cache_seconds=0)
        sql_key = sql.issue(operator, "bench", ["send"]).secret
        memory.authenticate(issued.secret)  # fill the cache
        fast = [secret] * 2000
        samples = interleaved(
            {
                "compare_digest (baseline)": (
                    lambda s: hmac.compare_digest(stored_hmac, stored_hmac),
                    fast,
                ),
                "hmac_sha256": (
                    lambda s: hmac.compare_digest(
                        stored_hmac, hmac.new(pepper, s.encode(), hashlib.sha256).digest()
                    ),
                    fast,
                ),
                "blake2b_keyed": (
                    lambda s: hmac.compare_digest(
                        stored_blake,
                        hashlib.blake2b(s.encode(), key=pepper, digest_size=32).digest(),
                    ),
                    fast,
                ),
                "authenticate_cache_hit": (lambda s: memory.authenticate(issued.secret), fast),
                "authenticate_sqlite_miss": (lambda s: sql.authenticate(sql_key), [secret] * 200),
                "argon2id_verify": (lambda s: hasher.verify(stored_argon, s), [secret] * 10),
            },
            passes=3,
        )
        db.dispose()
    results = {name: summary(values) for name, values in samples.items()}
    base = results["compare_digest (baseline)"]["mean_us"]
    for row in results.values():
        row["ratio_to_baseline"] = round(row["mean_us"] / base, 1)
    report(
        "http_keys",
        {
            "what": "verifying one presented API key secret; argon2id with argon2-cffi defaults "
            f"(time_cost={hasher.time_cost}, memory_cost={hasher.memory_cost} KiB, parallelism={hasher.parallelism})",
            "baseline": "compare_digest of two 32-byte digests",
            "results": {k: {m: round(v, 2) for m, v in row.items()} for k, row in results.items()},
        },
    )


if __name__ == "__main__":
    main()
