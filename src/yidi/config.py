"""Settings, read once from the environment (YIDI_*) and an optional .env file."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YIDI_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/yidi.db"
    demo_mode: bool = False  # demo credentials for the demo hospitals work only in demo mode
    log_level: str = "INFO"
    log_json: bool = False
    sign_window_seconds: int = 300  # ±300 s clock skew for hospital signatures
    max_input_chars: int = 40_000  # the interface's limit on `input`
    max_body_bytes: int = 1_000_000
    secret_key: str = "dev-only-change-me"  # session cookies and CSRF for the pages


@lru_cache
def get_settings() -> Settings:
    return Settings()
