"""pac-mock: a local sandbox for Mexican CFDI provider web services."""

__version__ = "0.1.0"
