"""Generator backends: local Hugging Face models and OpenAI-compatible APIs."""
