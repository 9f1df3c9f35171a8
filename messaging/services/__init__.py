"""messaging's writes and business rules, one module per responsibility.

Accepting: ``sending`` (send, bulk, retry, assignment, failing a deleted session's messages, batch completion),
``send_sql`` (the send's one statement), ``bulk_sql`` (COPY and batched UPDATEs), ``recipients``, ``personalise``,
``kick`` (asking a worker to dispatch a session). Sending: ``dispatch`` (the per-session dispatcher), ``pacing``
(Redis pacing and locks), ``status`` (status moves and acks). Recovery and figures: ``sweeper``, ``stats`` (the
rollup). Inbound: ``inbound`` (events), ``media`` (copies of inbound media).
"""
