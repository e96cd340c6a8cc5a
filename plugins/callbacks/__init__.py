"""Built-in callbacks plugins."""
