"""Every operator of the rule language: schemas (all of RULES.md) and handlers.

Importing this package registers them all in ``qc_service.rules.registry.REGISTRY``.
"""

from qc_service.rules.operators import (  # noqa: F401  (registration)
    audio,
    conversation,
    schemas,
    semantic,
    sentiment,
    text,
    timing,
)
