"""What the reconciler tells people and clusters after each run: webhook and Slack messages, Kubernetes Events.

Each is a RunListener (reconciler/run_events.py) that only queues: a worker thread per sink (and one for
the Events) delivers, retries and gives up on its own, so no delivery ever slows or fails a reconcile.
"""
