"""Recipes: TOML read into typed, frozen config objects."""
