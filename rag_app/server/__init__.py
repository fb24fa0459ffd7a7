"""An OpenAI-compatible HTTP API over a Pipeline ("RAG as a model")."""
