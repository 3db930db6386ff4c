"""Live contest state: scoring rules, rankings and realtime channels."""
