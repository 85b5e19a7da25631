"""SQS-fed batch queues: work items in, Claude answers out (Message Batches API or realtime calls).

See docs/batch.md. Entry points: `batch_jobs.consumer.handler`, `batch_jobs.poller.handler`; operators use
`bin/kit` (ops/batch_cli.py).
"""
