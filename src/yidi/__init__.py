"""yidi — 异地就医直接结算 (cross-region medical-insurance direct settlement)."""

__version__ = "0.1.0"
