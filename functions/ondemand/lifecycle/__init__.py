"""The endpoint lifecycle, in rooms with one job each, wired once by `ondemand.bootstrap`:

- `writes`: the conditional-write primitive and its retry;
- `starts`: admission (rate limits, cooldown, budget, the list to text), STARTING, creating the endpoint, FAILED;
- `predictions`: which tier answers /predict, and the use record;
- `promotion`: the canary, IN_SERVICE, the ready text;
- `shutdown`: extend, the stop notice, the teardown, the administrator's stop;
- `reconciler`: drift between the item and SageMaker, and its repairs;
- `endpoint_events`: what a SageMaker status change means, handed to the room that owns it;
- `texting`: the one place a text is sent; `schedules`: the teardown and notice schedules;
- `commands`: what handlers ask for, as values; `room`: the kit every room is built on.
"""
