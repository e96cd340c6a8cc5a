"""Contract tests and fixtures for plugin authors."""
