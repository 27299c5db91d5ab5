"""ORM model for named leases (the scheduler's "only one of us runs this now").

Why in the database: API processes and workers on several machines share nothing but the
database; a lease row with an expiry lets exactly one of them run the periodic jobs at a time, and a crashed
holder's lease simply runs out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from qc_service.db.base import Base


class Lease(Base):
    """A named, expiring lock held by one process."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    until: Mapped[datetime]
