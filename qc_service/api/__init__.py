"""The HTTP API (FastAPI): thin routers over the domain services; the OpenAPI spec is the contract."""
