"""Query-time retrieval: several retrievers, fused, optionally reranked."""
