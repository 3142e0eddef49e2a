"""The plan's global exit gates, evaluated on the metrics and the register.

"Exit when: All SMK-1..7 pass; flaky <= 5%; critical defects = 0; major defects <= 3 with
workarounds documented." Criticals are open Reds, majors open Ambers (an entry stops
counting once its fix is verified). A major "has a workaround" when its workaround text
is filled (decision Workaround, or a workaround noted alongside another decision).
Thresholds come from ``[gates]`` in the config.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from record.triage import Register

if TYPE_CHECKING:
    from runners.config import Gates


@dataclass(frozen=True)
class GateResult:
    name: str
    met: bool
    threshold: str
    value: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(g: Gates, metrics: dict[str, Any], reg: Register) -> list[GateResult]:
    out: list[GateResult] = []
    ref = metrics.get("reference_run")
    if g.all_smk_pass:
        if ref is None:
            out.append(GateResult("all_smk_pass", False, "SMK-1..7 pass on every host", "no smoke run",
                                  "no 02_smoke_run_<n> or 07_smoke_run_final recorded"))
        else:
            bad = ref["not_passed"]
            out.append(GateResult("all_smk_pass", bool(ref["all_smk_pass"]), "SMK-1..7 pass on every host",
                                  f"{ref['label']}: {'all pass' if not bad else str(len(bad)) + ' not passed'}",
                                  "; ".join(bad)))
    flaky = float(metrics.get("flaky_pct") or 0.0)
    names = ", ".join(f"{f['check']}@{f['host']}" for f in metrics.get("flaky_checks", []))
    out.append(GateResult("flaky", flaky <= g.flaky_max_pct, f"<= {g.flaky_max_pct:g} %", f"{flaky:.2f} %",
                          f"flaky: {names}" if names else ""))
    open_issues = [i for i in reg.sorted() if not i.resolved]
    reds = [i for i in open_issues if i.severity == "R"]
    out.append(GateResult("criticals", len(reds) <= g.criticals_max,
                          "= 0" if g.criticals_max == 0 else f"<= {g.criticals_max}", str(len(reds)),
                          ", ".join(f"{i.id} ({i.status})" for i in reds)))
    ambers = [i for i in open_issues if i.severity == "A"]
    out.append(GateResult("majors", len(ambers) <= g.majors_max, f"<= {g.majors_max}", str(len(ambers)),
                          ", ".join(i.id for i in ambers)))
    if g.majors_need_workaround:
        missing = [i for i in ambers if not i.workaround.strip()]
        out.append(GateResult("majors_workarounds", not missing, "every open major has a documented workaround",
                              f"{len(ambers) - len(missing)}/{len(ambers)} documented",
                              ("missing: " + ", ".join(i.id for i in missing)) if missing else ""))
    return out


def all_met(results: list[GateResult]) -> bool:
    return all(r.met for r in results)


# --------------------------------------------------------------------------- details on a screen

SHOW_ITEMS = 4  # a detail listing up to this many items is shown as it is
SHOW_HOSTS = 3  # hosts named on a grouped line before "… +N"
SHOW_GROUPS = 8  # grouped lines shown before "… +N more"
_VERB = {"error": "errored"}  # outcome -> how a grouped line says it ("SMK-5 errored on 2 hosts")


def _pair(item: str) -> tuple[str, str] | None:
    """"SMK-7@cam-01" -> ("SMK-7", "cam-01")."""
    check, sep, host = item.partition("@")
    return (check, host) if sep and check and host else None


def _hosts_text(hosts: list[str], show: int) -> str:
    if len(hosts) == 1:
        return hosts[0]
    named = ", ".join(hosts[:show])
    more = f", … +{len(hosts) - show}" if len(hosts) > show else ""
    return f"{len(hosts)} hosts ({named}{more})"


def detail_lines(gate: dict[str, Any], *, show_items: int = SHOW_ITEMS, show_hosts: int = SHOW_HOSTS,
                 show_groups: int = SHOW_GROUPS) -> list[str]:
    """A gate's ``detail`` for a screen, in a few lines: as it is when it lists at most
    ``show_items`` items; else failing checks (``all_smk_pass``) and flaky pairs (``flaky``)
    grouped by check with their host count, one line per check and outcome ("SMK-7 failed on
    34 hosts (cam-01, cam-02, cam-03, … +31)"), and other lists cut ("DRY-01, DRY-02, … +9").
    09_closeout.md keeps the full detail: this is for the console only."""
    detail = str(gate.get("detail") or "")
    name = gate.get("name")
    if not detail:
        return []
    prefix, body, sep = "", detail, ", "
    if name == "all_smk_pass":
        sep = "; "
    elif name == "flaky" and detail.startswith("flaky: "):
        prefix, body = "flaky: ", detail[len("flaky: "):]
    elif detail.startswith("missing: "):
        prefix, body = "missing: ", detail[len("missing: "):]
    items = body.split(sep)
    if len(items) <= show_items:
        return [detail]
    groups: dict[tuple[str, str], list[str]] = {}
    if name in ("all_smk_pass", "flaky"):
        for item in items:  # "SMK-7@cam-01: failed" (all_smk_pass), "SMK-3@cam-02" (flaky)
            target, _, what = item.rpartition(": ") if name == "all_smk_pass" else (item, "", "flaky")
            pair = _pair(target)
            if pair is None or not what:
                groups = {}
                break
            groups.setdefault((pair[0], what), []).append(pair[1])
    if not groups:
        return [f"{prefix}{sep.join(items[:show_items])}{sep}… +{len(items) - show_items}"]
    lines = [f"{check} {_VERB.get(what, what)} on {_hosts_text(hosts, show_hosts)}"
             for (check, what), hosts in groups.items()]
    if len(lines) > show_groups:
        lines = lines[:show_groups] + [f"… +{len(lines) - show_groups} more"]
    return lines
