"""Delivery of events to record systems: the outbox, the dispatcher, subscriptions, metrics."""
