"""SMART part of the service."""
