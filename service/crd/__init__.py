"""CRD part of the service."""
