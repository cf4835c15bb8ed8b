"""Chat-history management: keep the last turns, keep within a token budget, or
summarise older turns, with cut points that advance in steps so the provider's prompt
cache keeps serving the kept prefix (docs/levers/fewer-tokens.md, "Chat history")."""
