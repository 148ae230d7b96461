"""JSON Schemas for manifests and --json documents (installed as duck_cli.schemas)."""
