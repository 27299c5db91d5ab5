"""qc-service: conversation quality inspection and smart tagging."""

__version__ = "0.1.0"
