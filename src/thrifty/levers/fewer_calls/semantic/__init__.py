"""The semantic cache: local embeddings, a vector index and guards against false hits."""
