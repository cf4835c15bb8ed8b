"""The local tier: a task's requests are served by a local OpenAI-compatible server
(llama.cpp, Ollama, vLLM...) at $0, with strict JSON checks and a fallback to a hosted
model (docs/levers/cheaper-tokens.md, "Local tier").

* :mod:`.json_check`: what JSON a request asks for, and whether an answer is that JSON;
* :mod:`.tier`: the stage (try local, check, fall back, book both calls);
* :mod:`.stage`: the builder, ``build(parts)``, with the start-up checks.
"""
