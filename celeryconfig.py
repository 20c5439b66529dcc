"""Celery configuration for metasync workers and beat, built from the validated settings.

Delivery decisions (see DESIGN.md): JSON only; late acknowledgement with redelivery when a worker
process dies, so every task must be safe to run twice; one message prefetched per process so a
slow account never holds others' work; a broker visibility timeout (2 h) above every task time
limit (10 min) and every retry countdown (capped at 50 min by the tasks), so Redis does not hand a
still-running task to a second worker.
"""

from __future__ import annotations

from metasync.config import get_settings

_settings = get_settings()

broker_url = _settings.celery_broker_url
broker_connection_retry_on_startup = True
_visibility = _settings.BROKER_VISIBILITY_TIMEOUT_SECONDS
broker_transport_options = {
    "visibility_timeout": _visibility,  # seconds; a dead worker's tasks come back after this
    # how often workers look for such tasks: about every 100 s by default, faster when the
    # visibility timeout is short (tests that kill workers)
    "unacked_restore_interval": max(1, min(10, _visibility // 10)),
    "unacked_restore_throttle": 1 if _visibility < 600 else 10,
    "global_keyprefix": _settings.REDIS_KEY_PREFIX,  # the broker's keys share metasync's prefix
}
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
task_ignore_result = True
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_time_limit = 600  # seconds; hard kill
task_soft_time_limit = 540  # seconds; raises SoftTimeLimitExceeded inside the task
worker_cancel_long_running_tasks_on_connection_loss = True
worker_send_task_events = True  # Flower
task_send_sent_event = True
timezone = "UTC"
enable_utc = True
