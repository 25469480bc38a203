"""The package version, importable without the package root (which sits above every package)."""

__version__ = "0.1.0"
