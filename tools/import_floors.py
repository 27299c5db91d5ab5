"""Count imports that run up the floors of ARCHITECTURE.md, and folders that import each other.

Usage: ``python tools/import_floors.py [--list]``. Uses grimp (the import-graph library under
import-linter). A module's folder is its package two levels down (``qc_service.review``), or the
top-level module (``qc_service.main``); ``crm_bridge`` is one folder. Floors, top down:

0 entry points   main, kernel, cli, demo; schema (every model, for Alembic) and migrations
1 pipeline       lanes, tasks, feature providers (stores findings through the domains)
2 domains        conversations, ingest, review, rulesets, tagging, alerts, insights, customers,
                 tenancy, admin, retention, crm_bridge; store and runtime (the process's handles)
3 low floor      web, jobs, identity, audit
4 core libraries rules, nlp, audio; records (the record contract, parsed)
5 base           config, db, errors

An *upward* import is one whose importer sits on a lower floor (higher number) than what it
imports. A *mutual pair* is two folders each importing the other (domains included).
"""

from __future__ import annotations

import sys
from itertools import combinations

import grimp

FLOORS: dict[str, int] = {
    **dict.fromkeys(["qc_service.main", "qc_service.kernel", "qc_service.cli", "qc_service.demo",
                     "qc_service.api", "qc_service.schema", "qc_service.migrations"], 0),
    "qc_service.pipeline": 1,
    **dict.fromkeys(["qc_service.conversations", "qc_service.ingest", "qc_service.review",
                     "qc_service.rulesets", "qc_service.tagging", "qc_service.alerts",
                     "qc_service.insights", "qc_service.customers", "qc_service.tenancy",
                     "qc_service.admin", "qc_service.retention", "crm_bridge",
                     "qc_service.store", "qc_service.runtime"], 2),
    **dict.fromkeys(["qc_service.web", "qc_service.jobs", "qc_service.identity",
                     "qc_service.audit"], 3),
    **dict.fromkeys(["qc_service.rules", "qc_service.nlp", "qc_service.audio",
                     "qc_service.records"], 4),
    **dict.fromkeys(["qc_service.config", "qc_service.db", "qc_service.errors", "qc_service"], 5),
}  # fmt: skip


def folder(module: str) -> str:
    """``qc_service.review.flows`` → ``qc_service.review``; ``crm_bridge.x`` → ``crm_bridge``."""
    parts = module.split(".")
    if parts[0] == "crm_bridge":
        return "crm_bridge"
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def measure() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(upward imports as (importer, imported) modules, mutual folder pairs)."""
    graph = grimp.build_graph("qc_service", "crm_bridge", include_external_packages=False)
    upward: list[tuple[str, str]] = []
    edges: set[tuple[str, str]] = set()
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            a, b = folder(importer), folder(imported)
            if a == b:
                continue
            edges.add((a, b))
            fa, fb = FLOORS.get(a), FLOORS.get(b)
            if fa is None or fb is None:
                raise SystemExit(f"no floor for {a if fa is None else b}: add it to FLOORS")
            if fa > fb:
                upward.append((importer, imported))
    folders = sorted({f for e in edges for f in e})
    mutual = [(a, b) for a, b in combinations(folders, 2) if (a, b) in edges and (b, a) in edges]
    return upward, mutual


def main() -> None:
    upward, mutual = measure()
    print(f"upward imports: {len(upward)}")
    print(f"mutual folder pairs: {len(mutual)}")
    if "--list" in sys.argv:
        for importer, imported in upward:
            print(f"  up   {importer} -> {imported}")
        for a, b in mutual:
            print(f"  pair {a} <-> {b}")


if __name__ == "__main__":
    main()
