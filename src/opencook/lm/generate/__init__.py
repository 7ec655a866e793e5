"""KV-cache generation and an OpenAI-compatible server."""
