"""Built-in schedule plugins."""
