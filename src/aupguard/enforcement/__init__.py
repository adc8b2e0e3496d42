"""Enforcement and records: the ladder, cases, appeals, abuse reports, account
standing, legal requests, penalties, policy versions and traceback.

Modules: `datasets` (pack data schemas), `records` (what is kept), `store`
(the record store Protocol and memory implementation), `sql` (SQLite and
PostgreSQL), `service` (the operations, each with its audit entry), `sources`
(the state source and after-decision step of the send path), `lifecycle`
(billing events, export and scrub).
"""

__all__ = ["datasets", "lifecycle", "records", "service", "sources", "sql", "store"]
