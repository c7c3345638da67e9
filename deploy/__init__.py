"""`make deploy` and `make destroy`: the stack on AWS from one command, and nothing of it left billing after another.

`python -m deploy deploy` runs the preflight (tools, credentials, stack name, quotas), API Gateway's account-wide
CloudWatch role, `sam build` and a non-interactive `sam deploy` from samconfig.toml, publishes the page to the stack's
bucket behind CloudFront with a config.js made from the stack's outputs, makes the first model (the instant model at
once, the training pipeline started and followed), and smoke-tests the live API and page. `python -m deploy destroy`
stops the endpoint, deletes what the functions and the pipeline created, empties the buckets, deletes the stack and
fails if anything of it is left. Each step is a module of its own; `commands` runs them in order.
"""
