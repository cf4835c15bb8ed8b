"""Cheaper tokens: routing, cascades, local tier, batch."""
