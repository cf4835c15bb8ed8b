"""Fewer tokens: output control, prompt-cache planning, history, context, compression."""
