"""Typed dependencies for the REST routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from app.domain.liability import LiabilityConfig
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork


def get_uow(request: Request) -> UnitOfWork:
    """The request's unit of work, opened by ``UnitOfWorkRoute``."""
    uow: UnitOfWork = request.state.uow
    return uow


def get_settings(request: Request) -> Settings:
    """The application's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_liability_config(request: Request) -> LiabilityConfig:
    """The liability rule sets, rates and bindings loaded at start-up."""
    config: LiabilityConfig = request.app.state.liability
    return config


def get_now() -> datetime:
    """The request's notion of now (one value per request)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PageParams:
    """Keyset pagination: ``limit`` items after the opaque ``cursor``."""

    limit: int
    cursor: str | None


def get_page(
    request: Request,
    limit: Annotated[
        int | None, Query(ge=1, description="page size (default and maximum are configured)")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page")
    ] = None,
) -> PageParams:
    """Page parameters bounded by the configured maximum."""
    settings: Settings = request.app.state.settings
    return PageParams(min(limit or settings.default_page_size, settings.max_page_size), cursor)


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LiabilityDep = Annotated[LiabilityConfig, Depends(get_liability_config)]
NowDep = Annotated[datetime, Depends(get_now)]
PageDep = Annotated[PageParams, Depends(get_page)]
