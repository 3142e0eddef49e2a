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
