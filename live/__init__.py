"""live: a self-hosted platform for digital high-touch customer success."""

__version__ = "0.1.0"
