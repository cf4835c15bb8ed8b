"""Fewer calls: idempotency, debounce, in-flight coalescing, the exact and semantic caches."""
