"""The distributed fan-out (``[queue] backend = "procrastinate"``, ARCHITECTURE §12).

``digest run`` collects and prepares the per-paper work once, stores it with the edition
(:mod:`~digest.queue.work`), and enqueues one procrastinate task per chunk of subscriber ids
(:mod:`~digest.queue.dispatch`); ``digest worker`` processes on any machine run those tasks
(:mod:`~digest.queue.worker`) against the same PostgreSQL. The ledger makes every chunk
idempotent, so procrastinate's at-least-once execution (retries, a stalled job run again
after its worker died) never gives anyone a second, different digest.
"""
