"""The durable render queue: enqueue, claim, heartbeat, retry, cancel, reap; workers run it."""
