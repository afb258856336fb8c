"""The settings and platform a command runs with, loaded only when a command needs them
(so `--help` never pays for pydantic-settings, SQLAlchemy or the queue)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reelforge.platform.services import Platform
    from reelforge.settings import Settings


def settings() -> Settings:
    from reelforge.settings import get_settings

    return get_settings()


def platform() -> Platform:
    from reelforge.platform.services import Platform

    return Platform(settings())
