"""The manifest's xAPI read settings reach the source the composition root builds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.xapi import XapiSource
from plugin import settings
from plugin.manifest import Manifest, load_manifest
from plugin.runtime import Secrets, build_sources

ENV = {"LRS_USERNAME": "lrs-user", "LRS_PASSWORD": "lrs-password-1234"}


def with_xapi(**fields: Any) -> Manifest:
    data = load_manifest(settings.EXAMPLE_MANIFEST).model_dump()
    for source in data["sources"]:
        if source["type"] == "xapi":
            source.update(fields)
    return Manifest.model_validate(data)


def xapi_source(manifest: Manifest) -> XapiSource:
    (source,) = build_sources(manifest, Secrets("manifest.yaml", ENV), only="xapi")
    assert isinstance(source, XapiSource)
    return source


def test_by_default_the_lrs_is_probed_and_a_day_is_read_again_every_hour() -> None:
    source = xapi_source(with_xapi())
    assert source.since_compares == "auto"
    assert (source.reread_window, source.reread_every) == (timedelta(hours=24), timedelta(hours=1))


def test_the_manifest_can_say_what_since_compares_and_set_the_window() -> None:
    manifest = with_xapi(
        since_compares="timestamp", reread_window_hours=48, reread_every_minutes=15
    )
    source = xapi_source(manifest)
    assert source.since_compares == "timestamp"
    assert (source.reread_window, source.reread_every) == (
        timedelta(hours=48),
        timedelta(minutes=15),
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"since_compares": "both"},
        {"reread_window_hours": 0},
        {"reread_every_minutes": 1},
        {"reread_every_minutes": "60"},
    ],
)
def test_bad_read_settings_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        with_xapi(**fields)
