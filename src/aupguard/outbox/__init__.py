"""The gateway's message records, durable outbox and delivery to the downstream.

`model` (records), `store` (protocol, memory), `sql` (SQLite/PostgreSQL),
`writer` (group commit), `sinks` (HTTP, NATS JetStream, RabbitMQ), `worker`
(claim, deliver, retry with backoff and jitter, dead-letter, status callbacks),
`signing` (HMAC signatures of status callbacks).
"""
