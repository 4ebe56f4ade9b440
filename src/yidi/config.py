"""Settings, read once from the environment (YIDI_*) and an optional .env file."""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr
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
    # 零星报销 attachments (invoice, fee list): PDF/JPEG/PNG up to this size each, at most 6 per claim; a claim
    # submission may carry a body up to claim_body_bytes (the files travel base64 in JSON or as multipart).
    claim_attachment_max_bytes: int = 2 * 1024 * 1024
    claim_body_bytes: int = 18 * 1024 * 1024
    # Signs /api tokens and page sessions. A SecretStr prints as '**********' (repr, logs, tracebacks):
    # whoever reads a log must not be able to forge tokens. Read it with .get_secret_value().
    secret_key: SecretStr = SecretStr("dev-only-change-me")
    # Rate limits (api/ratelimit.py): per hospital access key on /fsi; failed logins per username + address.
    fsi_rate_per_second: float = 200.0  # 0 = unlimited
    fsi_rate_burst: int = 400
    # Worker processes serving this database (`yidi serve --workers N` sets it): each process keeps its own
    # buckets, so each takes 1/N of the rate and burst and the limit holds for the whole server.
    server_workers: int = 1
    login_failures_per_minute: int = 10  # 0 = unlimited
    # Dates of care (admission, discharge, visit) may lie at most this far after the server's clock
    # (services/clock.py): clocks of a HIS and the server run a little apart, a stay never ends in the future.
    care_clock_tolerance_seconds: int = 300
    # Degraded mode (services/ops.py): how long a process reuses its view of outage windows and the queue.
    ops_cache_seconds: float = 5.0
    # Test-only seam (tests/fault): seconds a 2304/2207 sleeps before its write. Read only when
    # YIDI_TEST_HOOKS=1 is also set, which only the fault tests do.
    test_slow_settle_seconds: float = 0.0
    # Test-only seam (tests/fault, with YIDI_TEST_HOOKS=1): a federation node SIGKILLs itself in its N-th
    # cross-province settlement, after the insured node's commit and before its own (0 = never).
    test_die_after_insured_commit: int = 0
    # Federation: seconds a treatment node waits for the insured node's answer before it answers the hospital
    # SERVICE_UNAVAILABLE (and queues a 2304/2207 in the deferred work queue). `yidi node serve --timeout` overrides.
    federation_timeout_seconds: float = 10.0
    # Deployment (docs/operations.md). "production" makes the server refuse to start without its secrets
    # (``production_problems``); anything else is development.
    env: str = "development"
    # Key(s) that encrypt hospital access-key secrets at rest (services/credentials.py): Fernet keys,
    # comma-separated, the first encrypts and all decrypt (rotation). Unset: derived from secret_key.
    credential_key: str = ""
    # The operator's policy folder (national.yaml, insured/, catalogs/), replacing the packaged one: made by
    # `yidi policy init DIR`, updated by `yidi import catalog` / `yidi import policy` (services/policy_files.py).
    policy_dir: str = ""


def secret_text(value) -> str:
    """A setting's plain text whether it is a str or a pydantic SecretStr."""
    return value.get_secret_value() if hasattr(value, "get_secret_value") else (value or "")


DEVELOPMENT_SECRET = "dev-only-change-me"


def production_problems(settings: Settings) -> list[str]:
    """What a production server lacks (empty outside production): each item says which variable to set."""
    if settings.env.lower() != "production":
        return []
    problems = []
    secret = secret_text(settings.secret_key)
    if not secret or secret == DEVELOPMENT_SECRET or len(secret) < 32:
        problems.append("YIDI_SECRET_KEY（至少32个字符的随机串，签发登录令牌和页面会话）")
    if not secret_text(settings.credential_key):
        problems.append("YIDI_CREDENTIAL_KEY（Fernet 密钥，加密保存医院接口密钥）")
    if "database_url" not in settings.model_fields_set:  # set in the environment or .env, never the default
        problems.append("YIDI_DATABASE_URL（生产数据库地址，如 postgresql://yidi@127.0.0.1:5432/yidi）")
    if settings.demo_mode:
        problems.append("YIDI_DEMO_MODE 必须为 false（演示密钥和演示账号不得用于生产）")
    return problems


@lru_cache
def get_settings() -> Settings:
    return Settings()
