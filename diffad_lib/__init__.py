"""diffad_lib: diffusion models for anomaly detection (the library behind the diffad book)."""

__version__ = "0.1.0"
