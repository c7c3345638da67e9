"""The developer dashboard's logic: the API client, its configuration, and the pure timeline and cost maths.

Nothing here imports the Lambda code, torch or the local runtime: the dashboard is a client of the HTTP API, so it
works the same against the local runtime and a deployed stack.
"""
