"""Built-in ensemble plugins."""
