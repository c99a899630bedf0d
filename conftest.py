"""Root pytest configuration (settings are already loaded by pytest-django when this runs)."""
