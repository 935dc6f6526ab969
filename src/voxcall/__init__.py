"""voxcall: a self-hosted voice-message call service."""

__version__ = "0.1.0"
