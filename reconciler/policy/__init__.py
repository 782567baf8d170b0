"""Decisions a reconcile makes from data alone: what went wrong, when to try again, what may be deleted."""
