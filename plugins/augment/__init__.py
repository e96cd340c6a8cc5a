"""Built-in augment plugins."""
