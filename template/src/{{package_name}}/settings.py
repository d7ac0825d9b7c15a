"""Settings from the environment (or a local .env file): secrets never live in configs."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Hugging Face access token, for gated or private models and datasets (HF_TOKEN).
    hf_token: SecretStr | None = None
    # Log level of the command line and the server (LOG_LEVEL).
    log_level: str = "INFO"

    def hub_token(self) -> str | None:
        """The token in clear, only to hand it to the hub client."""
        return self.hf_token.get_secret_value() if self.hf_token else None
