"""Every zh-CN string the pages show, and the formats of UI.md ("Every page", "Definitions").

Why one module: the labels and accessible names are a contract that tests and users rely on
(UI.md); keeping them here means a rename happens once, and a translation is one file.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

SEVERITY = {"critical": "致命", "high": "严重", "medium": "一般", "low": "提示"}
STATUS = {"open": "待申诉", "appealed": "申诉中", "upheld": "已维持", "overturned": "已撤销",
          "confirmed": "已确认"}  # fmt: skip
ROLE = {"admin": "管理员", "manager": "主管", "reviewer": "质检员", "agent": "坐席", "sales": "销售",
        "integration": "集成"}  # fmt: skip
SPEAKER = {"agent": "坐席", "customer": "客户", "system": "系统", "bot": "机器人"}
TAG_SOURCE = {"rule": "规则", "keyword": "规则", "qa": "AI", "semantic": "AI", "model": "AI",
              "group": "规则", "segment": "规则", "manual": "手动", "person": "手动"}  # fmt: skip
ACTION = {"opened": "机器发现", "status.appealed": "申诉", "status.upheld": "维持",
          "status.overturned": "撤销", "status.confirmed": "确认", "severity.changed": "改严重度",
          "tag.removed": "移除标签", "tag.locked": "锁定标签", "tag.confirmed": "确认标签",
          "tag.override_cleared": "清除覆盖", "tag.added": "打上标签"}  # fmt: skip
QUEUE_STATUSES = {"appealed": "待审", "upheld": "已维持", "overturned": "已撤销", "all": "全部"}

PRODUCT = "qc-service 质检"
LOGOUT = "退出"
DECIDED = {"upheld": "已维持", "overturned": "已撤销"}
REASON_REQUIRED = "撤销须选择理由"
APPEAL_REASON_REQUIRED = "请填写申诉理由"
OVERDUE = "已超时"
UNDER_AN_HOUR = "剩余 不足1小时"
DELETED_BY_RETENTION = "已按保留期删除"


def already_decided(name: str) -> str:
    """A stale form (UI.md): someone decided first."""
    return f"已由 {name} 处理"


def remaining(deadline: datetime, now: datetime) -> str:
    """``剩余 X 小时`` (X rounded down), ``剩余 不足1小时``, or ``已超时`` (UI.md, Definitions)."""
    hours = (deadline - now).total_seconds() / 3600
    if hours <= 0:
        return OVERDUE
    if hours < 1:
        return UNDER_AN_HOUR
    return f"剩余 {math.floor(hours)} 小时"


def when(value: datetime | None, tz: str) -> str:
    """``YYYY-MM-DD HH:mm`` in the tenant's zone (UI.md)."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def mmss(seconds: float | None) -> str:
    """``mm:ss`` of an evidence start, rounded down to the second (UI.md)."""
    total = int(seconds or 0)
    return f"{total // 60:02d}:{total % 60:02d}"


def percent(x: float | None) -> str:
    """Percentages to one decimal (UI.md)."""
    return "—" if x is None else f"{x * 100:.1f}%"


def jump_label(seconds: float | None) -> str:
    """The accessible name of a seek button: ``跳转到 mm:ss 命中``."""
    return f"跳转到 {mmss(seconds)} 命中"
