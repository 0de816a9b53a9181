"""cockpit: a keyboard-driven terminal cockpit for production go-lives."""

__version__ = "0.1.0"
