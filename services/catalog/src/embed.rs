//! Text embeddings (all-MiniLM-L6-v2) for product search and `POST /v1/embeddings`.
