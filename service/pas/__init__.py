"""PAS part of the service."""
