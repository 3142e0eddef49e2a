"""A pytest plugin that streams a run as JSON lines, for the dry-run console.

    pytest -p runners.external.pytest_plugin ...    # output: $DRYRUN_PYTEST_FD or $DRYRUN_PYTEST_JSONL
    pytest -p runners.external.pytest_plugin --dryrun-jsonl=run.jsonl ...

One JSON object per line, ``{"v": 1, "type": ..., "ts": ...}``:

- ``session_start``  pytest version, rootdir, args, whether pytest-repeat is active
- ``item``           one per selected test after collection (final order, after -k/--ff):
                     nodeid, name, smk ("SMK-3" or ""), iteration (pytest-repeat, 1-based)
- ``collected``      totals: selected, deselected, count (--count)
- ``collect_error``  a module that failed to import / collect
- ``test_start``     nodeid, smk, iteration
- ``report``         one per phase (setup/call/teardown): outcome, duration, crash
                     (path, lineno, message), longrepr excerpt, wasxfail, user_properties
- ``test_finish``    the test's verdict over its phases: passed | failed | error | skipped |
                     xfailed | xpassed, total duration
- ``session_finish`` exitstatus, shouldfail/shouldstop (``--maxfail`` reached), counts

The SMK id of a test comes from a ``@pytest.mark.smk("SMK-3")`` marker, else its name
(``test_SMK_3_discovery``, ``test_smk3``), else its class, else its module file name. A
mapped test also gets the keyword ``SMK_<n>``, so the plan's ``-k "SMK_3"`` selects it
however it is spelled. ``$DRYRUN_QUARANTINE`` (JSON ``{"SMK-3": reason}``, keys may be
``host::SMK-3`` with ``$DRYRUN_HOST``) skips quarantined checks with their reason.

Stdlib + pytest only: it runs inside the suite's own pytest, whatever its environment.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

import pytest

SCHEMA = 1
FD_ENV = "DRYRUN_PYTEST_FD"
FILE_ENV = "DRYRUN_PYTEST_JSONL"
QUARANTINE_ENV = "DRYRUN_QUARANTINE"
HOST_ENV = "DRYRUN_HOST"
LONGREPR_MAX = 4000  # characters of a failure's text sent per phase (the tail: where it failed)
MESSAGE_MAX = 2000
SMK_MAX = 7
_SMK = re.compile(r"smk[-_]?(\d+)(?!\d)", re.IGNORECASE)
REPEAT_PARAM = "__pytest_repeat_step_number"


def smk_from_text(text: str) -> str:
    """``test_SMK_3_x`` / ``smk-3`` / ``Smk3`` -> ``SMK-3``; "" when absent or out of range."""
    m = _SMK.search(text or "")
    if not m:
        return ""
    n = int(m.group(1))
    return f"SMK-{n}" if 1 <= n <= SMK_MAX else ""


def smk_of(item: Any) -> str:
    mark = item.get_closest_marker("smk")
    if mark is not None and mark.args:
        arg = mark.args[0]
        sid = smk_from_text(f"SMK-{arg}" if isinstance(arg, int) else str(arg))
        if sid:
            return sid
    for text in (getattr(item, "originalname", None) or item.name, getattr(getattr(item, "cls", None), "__name__", ""),
                 os.path.basename(str(getattr(item, "path", "") or item.nodeid.split("::")[0]))):
        sid = smk_from_text(text)
        if sid:
            return sid
    return ""


def iteration_of(item: Any) -> int:
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        step = callspec.params.get(REPEAT_PARAM)
        if isinstance(step, int):
            return step + 1
    return 1


def _clip(text: str, limit: int, tail: bool = True) -> str:
    if len(text) <= limit:
        return text
    return ("..." + text[-(limit - 3):]) if tail else (text[:limit - 3] + "...")


def _jsonable(v: Any) -> Any:
    try:
        json.dumps(v)
        return v
    except (TypeError, ValueError):
        return repr(v)


class _Stream:
    """Where the lines go: an inherited fd (a pipe the console reads) or a file."""

    def __init__(self, fd: int | None = None, path: str | None = None):
        self.fd = fd
        self.fh = open(path, "a", encoding="utf-8") if path else None
        self.broken = False

    def write(self, rec: dict[str, Any]) -> None:
        if self.broken:
            return
        rec = {"v": SCHEMA, **rec, "ts": time.time()}
        line = json.dumps(rec, default=repr, separators=(",", ":")) + "\n"
        try:
            if self.fh is not None:
                self.fh.write(line)
                self.fh.flush()
            elif self.fd is not None:
                data = line.encode("utf-8", errors="replace")
                while data:
                    n = os.write(self.fd, data)
                    data = data[n:]
        except OSError:  # the console went away: keep the tests running, stop reporting
            self.broken = True

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
        elif self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass


class DryRunReporter:
    def __init__(self, config: Any, stream: _Stream):
        self.config = config
        self.out = stream
        self.phases: dict[str, list[Any]] = {}
        self.meta: dict[str, tuple[str, int]] = {}
        self.quarantine = _load_quarantine()
        self.deselected = 0

    # -- collection ---------------------------------------------------------------------

    def pytest_sessionstart(self, session: Any) -> None:
        self.out.write({"type": "session_start", "pytest": pytest.__version__, "rootdir": str(self.config.rootpath),
                        "args": list(self.config.invocation_params.args), "pid": os.getpid(),
                        "repeat": self.config.pluginmanager.hasplugin("repeat")})

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        # Before -k deselects: give mapped tests the plan's keyword (SMK_3), and skip
        # quarantined checks with their reason.
        host = os.environ.get(HOST_ENV, "")
        for item in items:
            sid = smk_of(item)
            self.meta[item.nodeid] = (sid, iteration_of(item))
            if not sid:
                continue
            item.extra_keyword_matches.add(sid.replace("-", "_"))
            reason = self.quarantine.get(f"{host}::{sid}") if host else None
            reason = reason if reason is not None else self.quarantine.get(sid)
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=f"quarantined: {reason}"))

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.out.write({"type": "collect_error", "nodeid": report.nodeid,
                            "longrepr": _clip(str(report.longrepr), LONGREPR_MAX)})

    def pytest_collection_finish(self, session: Any) -> None:
        for item in session.items:
            sid, it = self.meta.get(item.nodeid) or (smk_of(item), iteration_of(item))
            self.meta[item.nodeid] = (sid, it)
            self.out.write({"type": "item", "nodeid": item.nodeid, "name": item.name, "smk": sid, "iteration": it})
        count = getattr(self.config.option, "count", 1) or 1
        self.out.write({"type": "collected", "selected": len(session.items),
                        "deselected": self.deselected,
                        "count": count if isinstance(count, int) else 1,
                        "errors": session.testsfailed if not session.items else 0})

    def pytest_deselected(self, items: list[Any]) -> None:
        self.deselected += len(items)  # for the log header's "N deselected"

    # -- running ------------------------------------------------------------------------

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        sid, it = self.meta.get(nodeid, ("", 1))
        self.phases[nodeid] = []
        self.out.write({"type": "test_start", "nodeid": nodeid, "smk": sid, "iteration": it,
                        "location": list(location) if location else None})

    def pytest_runtest_logreport(self, report: Any) -> None:
        sid, it = self.meta.get(report.nodeid, ("", 1))
        self.phases.setdefault(report.nodeid, []).append(report)
        rec: dict[str, Any] = {"type": "report", "nodeid": report.nodeid, "when": report.when,
                               "outcome": report.outcome, "duration": round(float(report.duration), 6),
                               "smk": sid, "iteration": it}
        if hasattr(report, "wasxfail"):
            rec["wasxfail"] = str(report.wasxfail)
        if report.user_properties:
            rec["user_properties"] = [[str(k), _jsonable(v)] for k, v in report.user_properties]
        if report.failed or report.skipped:
            rec.update(_failure(report))
        self.out.write(rec)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        reports = self.phases.pop(nodeid, [])
        sid, it = self.meta.get(nodeid, ("", 1))
        self.out.write({"type": "test_finish", "nodeid": nodeid, "smk": sid, "iteration": it,
                        "outcome": verdict(reports),
                        "duration": round(sum(float(r.duration) for r in reports), 6)})

    def pytest_sessionfinish(self, session: Any, exitstatus: Any) -> None:
        self.out.write({"type": "session_finish", "exitstatus": int(exitstatus),
                        "shouldfail": str(session.shouldfail or ""), "shouldstop": str(session.shouldstop or ""),
                        "testscollected": session.testscollected, "testsfailed": session.testsfailed})

    def pytest_internalerror(self, excrepr: Any, excinfo: Any) -> None:
        self.out.write({"type": "internal_error", "message": _clip(str(excrepr), LONGREPR_MAX)})

    def pytest_unconfigure(self, config: Any) -> None:
        self.out.close()


def verdict(reports: list[Any]) -> str:
    """One word for a test over its phases, like pytest's summary: a failing setup or
    teardown is an error, a failing call a failure; xfail/xpass kept apart."""
    call = next((r for r in reports if r.when == "call"), None)
    for r in reports:
        if r.failed and r.when != "call":
            return "error"
    if call is not None:
        if hasattr(call, "wasxfail"):
            return "xfailed" if call.skipped else "xpassed"
        if call.failed:
            return "failed"
        if call.skipped:
            return "skipped"
        return "passed"
    if any(r.skipped for r in reports):
        setup = next((r for r in reports if r.when == "setup"), None)
        if setup is not None and hasattr(setup, "wasxfail"):
            return "xfailed"
        return "skipped"
    return "error"  # no call phase and nothing skipped: the run stopped mid-test


def _failure(report: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lr = report.longrepr
    if lr is None:
        return out
    if isinstance(lr, tuple) and len(lr) == 3:  # a skip: (path, lineno, reason)
        out["crash"] = {"path": str(lr[0]), "lineno": lr[1], "message": _clip(str(lr[2]), MESSAGE_MAX, tail=False)}
        return out
    crash = getattr(lr, "reprcrash", None)
    if crash is not None:
        out["crash"] = {"path": str(crash.path), "lineno": crash.lineno,
                        "message": _clip(str(crash.message), MESSAGE_MAX, tail=False)}
    try:
        text = report.longreprtext
    except Exception:  # noqa: BLE001 - a repr that cannot render is still reported
        text = str(lr)
    out["longrepr"] = _clip(text, LONGREPR_MAX)
    return out


def _load_quarantine() -> dict[str, str]:
    raw = os.environ.get(QUARANTINE_ENV, "")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("dryrun", "dry-run console")
    group.addoption("--dryrun-jsonl", default=None, metavar="PATH",
                    help=f"write the JSON-lines result stream here (default: ${FD_ENV} or ${FILE_ENV})")


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "smk(id): the smoke check (SMK-1..SMK-7) this test exercises")
    if hasattr(config, "workerinput"):  # an xdist worker: the controller reports for it
        return
    path = config.getoption("dryrun_jsonl") or os.environ.get(FILE_ENV)
    fd = os.environ.get(FD_ENV)
    stream: _Stream | None = None
    if path:
        stream = _Stream(path=path)
    elif fd and fd.isdigit():
        stream = _Stream(fd=int(fd))
    if stream is not None:
        config.pluginmanager.register(DryRunReporter(config, stream), "dryrun-reporter")
