"""What happens to sessions that the apps above sessions_waha react to.

sessions_waha never imports those apps: they connect their receivers in their ``AppConfig.ready()``.
"""

from django.dispatch import Signal

# A session was deleted (``services.session_delete``), sent inside the deleting transaction after the session is
# hidden and its route removed; ``session_id`` is its id. A receiver that raises rolls the deletion back.
# messaging fails the session's queued and sending messages, which can never go out now.
session_deleted = Signal()
