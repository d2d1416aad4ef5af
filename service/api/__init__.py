"""HTTP routes that belong to no one guide: health, readiness, terminology, policy texts."""
