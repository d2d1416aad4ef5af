"""FHIR resource building and reading at the edges (JSON dicts in, JSON dicts out)."""
