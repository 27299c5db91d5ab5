"""Every operator of the rule language: schemas (all of RULES.md) and handlers.

Importing this package registers them all; ``REGISTRY`` is the one lookup.
"""

from qc_service.rules.operators import schemas, text  # noqa: F401  (registration)
from qc_service.rules.operators.registry import REGISTRY, OperatorSpec, Param

__all__ = ["REGISTRY", "OperatorSpec", "Param"]
