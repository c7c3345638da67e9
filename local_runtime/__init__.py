"""The embedded default: the same lifecycle handlers from `functions/`, plugged into local adapters on loopback.

`python -m local_runtime` (or `make demo`) starts the state store, the gateway, the event bus, the scheduler
and, on demand, the model server, with no AWS account and no Docker."""
