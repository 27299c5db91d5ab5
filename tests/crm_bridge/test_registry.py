"""Adapters are found through the entry point group, built-ins included."""

from __future__ import annotations

import pytest
from bridge_helpers import bridge_settings

from crm_bridge.adapters import (
    BUILTIN_ADAPTERS,
    ENTRY_POINT_GROUP,
    AdapterPool,
    AdapterUnavailable,
    adapter_entry_points,
    load_adapter_class,
)
from crm_bridge.adapters.local import LocalAdapter
from crm_bridge.adapters.recording import RecordingAdapter
from crm_bridge.adapters.webhook import WebhookAdapter
from crm_bridge.adapters.wecom import WeComAdapter


def test_builtins_are_entry_points_of_the_group() -> None:
    found = adapter_entry_points()
    assert set(BUILTIN_ADAPTERS) <= set(found)
    assert {ep.group for ep in found.values()} == {ENTRY_POINT_GROUP}
    classes = {slug: load_adapter_class(slug) for slug in BUILTIN_ADAPTERS}
    assert classes == {"local": LocalAdapter, "webhook": WebhookAdapter,
                       "recording": RecordingAdapter, "wecom": WeComAdapter}  # fmt: skip
    assert all(cls.slug == slug for slug, cls in classes.items())


def test_unknown_and_unconfigured_adapters_are_unavailable() -> None:
    with pytest.raises(AdapterUnavailable, match="no CRM adapter named 'nope'"):
        load_adapter_class("nope")
    pool = AdapterPool(bridge_settings(webhook_url=None))
    with pytest.raises(AdapterUnavailable, match="QC_WEBHOOK_URL"):
        pool.get("webhook")
    assert pool.get("local") is pool.get("local")
    pool.close()
