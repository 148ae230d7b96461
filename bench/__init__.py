"""duck benchmark: generated projects, timings against raw DuckDB (see README.md)."""
