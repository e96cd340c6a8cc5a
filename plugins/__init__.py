"""Built-in tricks, installed as the import package `harness_plugins`.

One trick per module, grouped by the hook it implements. Each module ends with the `@hookimpl`
that plugs it in, written against exactly the API a third-party plugin package uses.
"""
