"""DTR part of the service."""
