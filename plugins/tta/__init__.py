"""Built-in tta plugins."""
