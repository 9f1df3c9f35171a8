"""The WAHA webhook receiver's services.

``receive`` (verify, route, store once: ``POST /webhooks/waha``), ``envelope`` (parsing), ``applier`` (stored
events become messages, acks and session statuses, in arrival order), ``sweep`` (the periodic work of a tenant)
and ``enqueue`` (the tasks a service sends, by name).
"""
