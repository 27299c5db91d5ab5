"""The ``wecom`` adapter (WECOM.md): tags on the (owner, customer) relation with ``mark_tag``,
owner transfers with ``transfer_customer``, everything else ``skipped``.

Why coalescing: an exclusive-group swap (小学 → 初中) is a ``tag.added`` and a ``tag.removed`` of
one customer, written together; WeCom must see it as one ``mark_tag`` with both lists, or the
customer briefly holds both (or neither). The dispatcher hands the customer's consecutive tag
events here together and marks every one sent by that call's success. ``mark_tag`` is a set
operation, so a re-delivered event (the response lost after WeCom applied it) changes nothing.
"""

from __future__ import annotations

import threading
from typing import Any, Self

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.adapters.base import (
    AdapterUnavailable,
    CrmAdapter,
    PermanentDeliveryError,
    SkipDelivery,
)
from crm_bridge.adapters.wecom_client import WeComClient, WeComError
from crm_bridge.settings import BridgeSettings
from qc_service.customers.models import Customer

TAG_EVENTS = frozenset({"tag.added", "tag.removed"})
MARK_TAG = "/cgi-bin/externalcontact/mark_tag"


class WeComAdapter(CrmAdapter):
    """Tags and transfers to WeCom's external-contact API; other events are skipped."""

    slug = "wecom"

    def __init__(self, settings: BridgeSettings) -> None:
        self.settings = settings
        self.client = WeComClient(settings)
        self._catalogue: dict[str, str] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: BridgeSettings) -> Self:
        """Needs ``QC_WECOM_CORP_ID`` and ``QC_WECOM_SECRET``."""
        try:
            return cls(settings)
        except ValueError as exc:
            raise AdapterUnavailable(str(exc)) from None

    # -- catalogue ------------------------------------------------------------------------
    def _load_catalogue(self) -> dict[str, str]:
        answer = self.client.call("/cgi-bin/externalcontact/get_corp_tag_list", {})
        ours = {}
        for group in answer.get("tag_group", []):
            if group.get("group_name") == self.settings.wecom_tag_group:
                ours.update(
                    {t["name"]: t["id"] for t in group.get("tag", []) if not t.get("deleted")}
                )
        return ours

    def tag_ids(self, names: list[str], *, refresh: bool = False, create: bool = True) -> list[str]:
        """Our tag ids for ``names``, creating the missing ones under the tag group (``create``;
        a tag to remove that WeCom never had is simply left out)."""
        with self._lock:
            if refresh or self._catalogue is None:
                self._catalogue = self._load_catalogue()
            missing = (
                [n for n in dict.fromkeys(names) if n not in self._catalogue] if create else []
            )
            for name in missing:
                try:
                    answer = self.client.call("/cgi-bin/externalcontact/add_corp_tag", {
                        "group_name": self.settings.wecom_tag_group, "tag": [{"name": name}]})  # fmt: skip
                    for tag in answer["tag_group"]["tag"]:
                        self._catalogue[tag["name"]] = tag["id"]
                except WeComError as exc:
                    if exc.errcode != 40071:  # 40071: the name exists: read it back
                        raise
                    self._catalogue = self._load_catalogue()
            return [self._catalogue[n] for n in names if n in self._catalogue]

    # -- delivery -------------------------------------------------------------------------
    def coalesce(self, first: dict[str, Any], following: dict[str, Any]) -> bool:
        """A customer's consecutive tag events for the same employee go in one ``mark_tag``."""
        return (first["type"] in TAG_EVENTS and following["type"] in TAG_EVENTS
                and first["data"].get("employee_id") == following["data"].get("employee_id"))  # fmt: skip

    def deliver(self, event: dict[str, Any], *, db_session: Session) -> None:
        """One event (see ``deliver_many``)."""
        self.deliver_many([event], db_session=db_session)

    def deliver_many(self, events: list[dict[str, Any]], *, db_session: Session) -> None:
        """Tag events → one ``mark_tag`` (later events win); a transfer → ``transfer_customer``."""
        first = events[0]
        try:
            if first["type"] == "customer.transfer_requested":
                self._transfer(first["data"])
            elif first["type"] in TAG_EVENTS:
                self._mark(events, db_session)
            else:
                raise SkipDelivery(f"WeCom has no call for {first['type']}")
        except WeComError as exc:
            raise exc.as_delivery_error() from None

    def _mark(self, events: list[dict[str, Any]], db_session: Session) -> None:
        data = events[0]["data"]
        add: dict[str, None] = {}
        remove: dict[str, None] = {}
        for event in events:
            tag = str(event["data"]["tag"])
            (add if event["type"] == "tag.added" else remove)[tag] = None
            (remove if event["type"] == "tag.added" else add).pop(tag, None)
        employee = data.get("employee_id") or _owner(
            db_session, events[0]["tenant"], data["customer_id"]
        )
        if not employee:
            raise PermanentDeliveryError(
                f"customer {data['customer_id']!r} has no owner in WeCom to tag through"
            )
        for attempt in (1, 2):  # 40068: the catalogue is stale (a tag deleted): refresh, once
            body = {"userid": employee, "external_userid": data["customer_id"],
                    "add_tag": self.tag_ids(list(add), refresh=attempt == 2),
                    "remove_tag": self.tag_ids(list(remove), create=False)}  # fmt: skip
            if not body["add_tag"] and not body["remove_tag"]:
                return  # removing a tag WeCom never had: nothing to do
            try:
                self.client.call(MARK_TAG, body)
                return
            except WeComError as exc:
                if exc.errcode != 40068 or attempt == 2:
                    raise

    def _transfer(self, data: dict[str, Any]) -> None:
        answer = self.client.call("/cgi-bin/externalcontact/transfer_customer", {
            "handover_userid": data["from_employee"], "takeover_userid": data["to_employee"],
            "external_userid": [data["customer_id"]]})  # fmt: skip
        for item in answer.get("customer", []):
            code = int(item.get("errcode", 0))
            if code != 0:
                raise WeComError(code, f"transfer of {item.get('external_userid')}")

    def close(self) -> None:
        """Close the client."""
        self.client.close()


def _owner(db_session: Session, tenant: str, customer: str) -> str | None:
    """The customer's current owner: the relation a tag without a conversation goes on."""
    return db_session.scalar(select(Customer.owner_external_id).where(
        Customer.tenant_id == tenant, Customer.external_id == customer))  # fmt: skip
