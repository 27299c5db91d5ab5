"""The peer libraries' own evasion cases, run through the public rule language.

Source: ../shared/data/sensitive_evasion_cases (houbb/sensitive-word and ToolGood.Words tests,
Apache-2.0). For rows whose deny list is the peer's DEFAULT dictionary, the plain form of the
expected words is the deny list. Evidence texts must equal the peers' expected hits.
"""

from __future__ import annotations

import csv
import json

import pytest
from helpers import conv, rules, run_one, shared_data

REQUIRED = [
    "E002", "E003", "E004", "E005", "E010", "E011", "E018", "E019", "E020", "E021", "E022",
    "E027", "E028", "E030", "E031", "E032", "E033", "E038", "E039",
]  # fmt: skip
DEFAULT_DENY = {
    "E002": ["fuck"], "E003": ["fuck"], "E004": ["五星红旗"], "E005": ["fuck"],
    "E010": ["傻冒", "狗东西"], "E011": ["傻逼"],
}  # fmt: skip


def _cases() -> dict[str, dict[str, str]]:
    path = shared_data() / "sensitive_evasion_cases" / "evasion_cases.tsv"
    with path.open(encoding="utf-8") as fh:
        return {row["case_id"]: row for row in csv.DictReader(fh, delimiter="\t")}


@pytest.mark.shared_data
@pytest.mark.parametrize("case_id", REQUIRED)
def test_peer_case(case_id: str) -> None:
    row = _cases()[case_id]
    deny = DEFAULT_DENY.get(case_id) or row["deny_words"].split("|")
    keyword: dict[str, object] = {"words": deny}
    if row["allow_words"] and row["allow_words"] != "DEFAULT":
        keyword["allow"] = row["allow_words"].split("|")
    result = run_one(rules({"when": {"keyword": keyword}}), conv(("customer", row["input_text"])))
    got = sorted(e.text or "" for e in result.evidence)
    assert got == sorted(json.loads(row["expected"])), f"{case_id} ({row['technique']})"
    for ev in result.evidence:
        assert row["input_text"][ev.start : ev.end] == ev.text
