"""JUnit XML of a smoke run (beside its log: ``02_smoke_run_N.xml``), for CI dashboards.

One ``testsuite`` named after the run label; one ``testcase`` per check attempt with
``classname`` = ``smoke.<host>`` and ``name`` = the SMK id (``[attempt-count]`` when
repeated, like pytest-repeat). Failures carry expected/seen as the message and the
fault, steps and metrics in the body; metrics also go in ``properties``.
"""

from __future__ import annotations

import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from runners.events import CheckFinished

_TAG = {"failed": "failure", "error": "error", "skipped": "skipped"}


def _clean(text: str) -> str:
    # XML 1.0 forbids most control characters; a service may put anything in a message.
    return "".join(ch if ch in "\t\n\r" or ord(ch) >= 0x20 else f"\\x{ord(ch):02x}" for ch in text)


def junit_xml(results: Iterable[CheckFinished], *, label: str = "", duration: float = 0.0,
              started: float | None = None, count: int = 1, run_id: str = "",
              steps: dict[tuple[str, str, int], list[str]] | None = None) -> str:
    results = list(results)
    n = {k: sum(r.outcome == k for r in results) for k in ("failed", "error", "skipped")}
    suite = ET.Element("testsuite", {
        "name": label or "dryrun-smoke",
        "tests": str(len(results)),
        "failures": str(n["failed"]),
        "errors": str(n["error"]),
        "skipped": str(n["skipped"]),
        "time": f"{duration:.3f}",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started or time.time())),
        "hostname": socket.gethostname(),
    })
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", {"name": "run_id", "value": run_id})
    for r in results:
        name = f"{r.check}[{r.attempt}-{count}]" if count > 1 else r.check
        case = ET.SubElement(suite, "testcase", {"classname": f"smoke.{r.host}", "name": name,
                                                 "time": f"{r.duration:.3f}"})
        if r.metrics:
            cp = ET.SubElement(case, "properties")
            for k, v in r.metrics.items():
                ET.SubElement(cp, "property", {"name": k, "value": str(v)})
        tag = _TAG.get(r.outcome)
        if tag == "skipped":
            ET.SubElement(case, "skipped", {"message": _clean(r.summary)})
        elif tag:
            el = ET.SubElement(case, tag, {"message": _clean(f"expected {r.expected}; seen {r.seen}"),
                                           "type": r.fault or r.outcome})
            body = [f"expected: {r.expected}", f"seen:     {r.seen}", f"fault:    {r.fault}"]
            for s in (steps or {}).get((r.host, r.check, r.attempt), []):
                body.append(f"step: {s}")
            body.extend(f"service log: {ln}" for ln in r.log_excerpt)
            el.text = _clean("\n".join(body))
        if r.summary and tag != "skipped":
            ET.SubElement(case, "system-out").text = _clean(r.summary)
    root = ET.Element("testsuites", {"name": "dryrun", "tests": str(len(results)), "failures": str(n["failed"]),
                                     "errors": str(n["error"]), "skipped": str(n["skipped"]),
                                     "time": f"{duration:.3f}"})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
