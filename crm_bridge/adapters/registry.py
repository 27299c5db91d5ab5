"""Finding adapters by slug (entry points) and choosing one per tenant.

Why entry points for built-ins too: ``local``, ``webhook`` and ``recording`` are registered in the
``qc_service.crm_adapters`` group exactly like a third-party adapter, so the extension point is
exercised on every delivery. ``BUILTIN_ADAPTERS`` is only a fallback for a checkout whose
package metadata does not list them yet; an installed entry point of the same name wins.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points

from sqlalchemy.orm import Session

from crm_bridge.adapters.base import AdapterUnavailable, CrmAdapter
from crm_bridge.settings import BridgeSettings
from qc_service.tenancy.models import Tenant

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "qc_service.crm_adapters"
"""The entry point group adapters register in (name = slug, value = ``module:Class``)."""

BUILTIN_ADAPTERS: dict[str, str] = {
    "local": "crm_bridge.adapters.local:LocalAdapter",
    "webhook": "crm_bridge.adapters.webhook:WebhookAdapter",
    "recording": "crm_bridge.adapters.recording:RecordingAdapter",
    "wecom": "crm_bridge.adapters.wecom:WeComAdapter",
}
"""The adapters that ship in the package, as their entry point values."""


def adapter_entry_points() -> dict[str, EntryPoint]:
    """Every known adapter by slug: installed entry points, then the built-in fallbacks."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    for slug, value in BUILTIN_ADAPTERS.items():
        found.setdefault(slug, EntryPoint(name=slug, value=value, group=ENTRY_POINT_GROUP))
    return found


def load_adapter_class(slug: str) -> type[CrmAdapter]:
    """The adapter class registered as ``slug`` (``AdapterUnavailable`` if none or broken)."""
    ep = adapter_entry_points().get(slug)
    if ep is None:
        raise AdapterUnavailable(f"no CRM adapter named {slug!r} (group {ENTRY_POINT_GROUP})")
    try:
        cls = ep.load()
    except Exception as exc:  # a third-party plugin may fail to import in any way
        raise AdapterUnavailable(
            f"CRM adapter {slug!r} ({ep.value}) failed to load: {exc}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, CrmAdapter)):
        raise AdapterUnavailable(f"CRM adapter {slug!r} ({ep.value}) is not a CrmAdapter")
    return cls


def tenant_adapter_slug(db_session: Session, tenant_id: str, settings: BridgeSettings) -> str:
    """The tenant's adapter: ``Tenant.settings["crm_adapter"]``, else ``QC_CRM_ADAPTER``."""
    tenant = db_session.get(Tenant, tenant_id)
    chosen = (tenant.settings or {}).get("crm_adapter") if tenant is not None else None
    return str(chosen) if chosen else settings.crm_adapter


class AdapterPool:
    """Adapter instances of one dispatcher, built on first use and closed together.

    ``instances`` pre-seeds slugs with ready objects (tests hand in a ``RecordingAdapter`` they
    inspect); any other slug is loaded through the entry points.
    """

    def __init__(
        self, settings: BridgeSettings, *, instances: Mapping[str, CrmAdapter] | None = None
    ) -> None:
        self.settings = settings
        self._instances: dict[str, CrmAdapter] = dict(instances or {})
        self._lock = threading.Lock()

    def get(self, slug: str) -> CrmAdapter:
        """The adapter for ``slug`` (``AdapterUnavailable`` if it cannot be built)."""
        with self._lock:
            adapter = self._instances.get(slug)
            if adapter is None:
                adapter = load_adapter_class(slug).from_settings(self.settings)
                self._instances[slug] = adapter
            return adapter

    def for_tenant(self, db_session: Session, tenant_id: str) -> CrmAdapter:
        """The adapter the tenant has chosen (read on every event: a change applies at once)."""
        return self.get(tenant_adapter_slug(db_session, tenant_id, self.settings))

    def close(self) -> None:
        """Close every adapter built so far."""
        with self._lock:
            adapters, self._instances = list(self._instances.values()), {}
        for adapter in adapters:
            try:
                adapter.close()
            except Exception:
                log.exception("closing CRM adapter %s failed", adapter.slug)
