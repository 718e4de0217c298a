"""Reads: the review queue and its one FilterSet, analytics, the integrity checks, what bots
read."""
