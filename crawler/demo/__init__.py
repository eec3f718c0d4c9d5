"""Bundled sample outlet ("Steppe Wire") and loopback servers used by `newswatch demo` and the tests."""
