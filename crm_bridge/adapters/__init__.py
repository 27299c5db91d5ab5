"""CRM adapters: one interface, discovered through the ``qc_service.crm_adapters`` entry points."""

from crm_bridge.adapters.base import (
    AdapterUnavailable,
    BudgetExhausted,
    CrmAdapter,
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
    SkipDelivery,
)
from crm_bridge.adapters.registry import (
    BUILTIN_ADAPTERS,
    ENTRY_POINT_GROUP,
    AdapterPool,
    adapter_entry_points,
    load_adapter_class,
    tenant_adapter_slug,
)

__all__ = [
    "BudgetExhausted",
    "SkipDelivery",
    "BUILTIN_ADAPTERS",
    "ENTRY_POINT_GROUP",
    "AdapterPool",
    "AdapterUnavailable",
    "CrmAdapter",
    "DeliveryError",
    "PermanentDeliveryError",
    "RetryableDeliveryError",
    "adapter_entry_points",
    "load_adapter_class",
    "tenant_adapter_slug",
]
