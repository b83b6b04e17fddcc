"""Node configuration: a TOML file overridden by ``COALITION_<SETTING>`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import langcodes
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "COALITION_CONFIG"
CONFIG_FILE = "coalition.toml"


class ConfigError(Exception):
    """Configuration that cannot work, with the setting to fix and how."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COALITION_", extra="forbid")

    node_id: str = Field(
        default="",
        description="Stable identifier of this node in the federation; written by `coalition init`.",
    )
    node_name: str = Field(default="Coalition node", min_length=1, max_length=200)
    region: str = Field(default="", max_length=100)
    base_url: str = Field(default="http://127.0.0.1:8000")
    data_dir: Path = Field(default=Path("data"))
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; empty means a SQLite file in the data directory.",
    )
    default_language: str = "en"
    timezone: str = Field(default="UTC", description="IANA zone for events given without one.")
    languages: list[str] = Field(default_factory=lambda: ["en"])
    key_file: Path = Field(default=Path(""), description="Ed25519 private key (PEM).")
    dev_mode: bool = False
    session_days: int = Field(default=30, ge=1, le=365)
    invitation_days: int = Field(default=14, ge=1, le=365)
    login_failures_per_handle: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=20, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    petition_unlink_days: int = Field(
        default=30, ge=0, description="Days after a petition closes before anonymous signatures lose their member link."
    )
    signing_actions_per_window: int = Field(default=10, ge=1)
    signing_window_minutes: int = Field(default=10, ge=1)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)

    config_file: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _current_config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. https://coalition.example")
        return value.rstrip("/")

    @field_validator("default_language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        return _language_tag(value)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        from zoneinfo import available_timezones

        if value not in available_timezones():
            raise ValueError(f"'{value}' is not an IANA time zone name (e.g. 'Africa/Nairobi')")
        return value

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must list at least one language, e.g. ['en', 'sw']")
        return [_language_tag(tag) for tag in value]

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            if value.startswith(("postgres://", "postgresql://")):
                return "postgresql+asyncpg://" + value.split("://", 1)[1]
            if value.startswith("sqlite://"):
                return "sqlite+aiosqlite://" + value.split("://", 1)[1]
            raise ValueError("must be a sqlite:///path or postgresql://user@host/db URL")
        return value

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        base = self.config_file.parent if self.config_file else Path.cwd()
        if not self.data_dir.is_absolute():
            self.data_dir = (base / self.data_dir).resolve()
        if str(self.key_file) in ("", "."):
            self.key_file = self.data_dir / "keys" / "node-ed25519.pem"
        elif not self.key_file.is_absolute():
            self.key_file = (base / self.key_file).resolve()
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'coalition.db'}"
        if self.default_language not in self.languages:
            self.languages = [self.default_language, *self.languages]
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _language_tag(value: str) -> str:
    if not langcodes.tag_is_valid(value) or not langcodes.Language.get(value).is_valid():
        raise ValueError(f"'{value}' is not a known language tag (use e.g. 'en', 'sw', 'pt-BR')")
    return langcodes.standardize_tag(value)


def _current_config_file() -> Path | None:
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit)
    candidate = Path.cwd() / CONFIG_FILE
    return candidate if candidate.exists() else None


def load_settings(**overrides: Any) -> Settings:
    """Read the configuration, turning validation failures into one readable ``ConfigError``."""
    config_file = _current_config_file()
    if config_file is not None and not config_file.exists():
        raise ConfigError(
            f"{CONFIG_ENV} points to {config_file}, which does not exist. Run `coalition init` there or fix the path."
        )
    try:
        return Settings(config_file=config_file, **overrides)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = ".".join(str(part) for part in problem["loc"]) or "configuration"
            source = f"in {config_file}" if config_file else "in the environment"
            lines.append(f"setting '{name}' ({source} or COALITION_{name.upper()}): {problem['msg']}")
        raise ConfigError("Invalid configuration:\n  " + "\n  ".join(lines)) from None
    except Exception as error:  # a TOML syntax error, for one
        raise ConfigError(f"Cannot read configuration {config_file}: {error}") from None
