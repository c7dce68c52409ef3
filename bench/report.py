"""Targets, the recommended worker count, and the Markdown summary of a run."""

from __future__ import annotations

import json

# The targets of the sandbox (issue "performance step 2"); ratios are measured in the same run, in
# alternating rounds, and judged by their median.
SF_VS_BARE = 0.35
SF_VS_WIREMOCK = 3.0
SF_P99_MS = 20.0
READ_VS_BARE = 0.60
XPD_VS_WIREMOCK = 3.0
XPD_500_MS = 15.0
COLD_START_S = 0.6
IDLE_RSS_MB = 120.0
INGEST_40MB_S = 0.5
INGEST_GROWTH_X = 2.0


def _ops(results: dict) -> dict[str, dict]:
    return {o["name"]: o for o in results.get("operations", [])}


def _works(op: dict | None) -> bool:
    return (
        bool(op)
        and op["probe"]["status"] == 200
        and not op["probe"]["not_implemented"]
        and op["non_2xx"] == 0
    )


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def _target(name: str, target: str, measured: str, reached: bool | None, note: str = "") -> dict:
    return {"target": name, "goal": target, "measured": measured, "reached": reached, "note": note}


def _spread_text(sp: dict | None, unit: str = "", pct: bool = False) -> str:
    if not sp:
        return "-"
    f = (lambda v: f"{100 * v:.0f} %") if pct else (lambda v: f"{v:g}{unit}")
    return f"{f(sp['min'])} – {f(sp['max'])} (n={sp['n']})"


def _row(name: str, goal: str, sp: dict | None, reached: bool | None, *, unit: str = "", pct: bool = False,
         note: str = "") -> dict:
    median = "-" if not sp else (f"{100 * sp['median']:.0f} %" if pct else f"{sp['median']:g}{unit}")
    return {"target": name, "goal": goal, "median": median, "spread": _spread_text(sp, unit, pct),
            "reached": reached, "note": note, "values": sp}


def targets(results: dict) -> list[dict]:
    """Every target with its median and spread (lowest – highest round) and whether the median meets it."""
    out = []
    summary = (results.get("ratios") or {}).get("summary") or {}
    probes = (results.get("ratios") or {}).get("probes") or {}

    def works(name: str) -> bool:
        answer = probes.get(name) or {}
        return answer.get("status") == 200 and not summary.get(f"{name} non-2xx")

    def at_least(sp: dict | None, goal: float, name: str) -> bool | None:
        return None if not sp or not works(name) else sp["median"] >= goal

    sf = "sf.cancelarAsincrono"
    if summary:
        out.append(_row("SF cancelarAsincrono vs the bare Flask + lxml route", f">= {SF_VS_BARE:.0%}",
                        summary.get(f"{sf} / bare"), at_least(summary.get(f"{sf} / bare"), SF_VS_BARE, sf),
                        pct=True))
        out.append(_row("SF cancelarAsincrono vs WireMock (XPath-matched canned)", f">= {SF_VS_WIREMOCK:g}x",
                        summary.get(f"{sf} / wiremock"),
                        at_least(summary.get(f"{sf} / wiremock"), SF_VS_WIREMOCK, sf), unit="x"))
        p99 = summary.get(f"{sf} p99 ms")
        out.append(_row("SF cancelarAsincrono p99 at 16 connections", f"<= {SF_P99_MS:g} ms", p99,
                        None if not p99 or not works(sf) else p99["median"] <= SF_P99_MS, unit=" ms"))
        for name, label in (("sf.getStatusCancelacionAsincrona", "SF getStatusCancelacionAsincrona"),
                            ("mysuite.ASYNC_CONVERT_VERIFY", "MYSuite ASYNC_CONVERT_VERIFY")):
            sp = summary.get(f"{name} / bare")
            out.append(_row(f"{label} vs the bare route", f">= {READ_VS_BARE:.0%}", sp,
                            at_least(sp, READ_VS_BARE, name), pct=True))
        sp = summary.get("xpd.cancelar / wiremock")
        out.append(_row("XPD cancelar, 1 folio, signature checked, vs WireMock", f">= {XPD_VS_WIREMOCK:g}x", sp,
                        at_least(sp, XPD_VS_WIREMOCK, "xpd.cancelar"), unit="x"))
    five = results.get("xpd_500")
    if five:
        server = five.get("server_ms")
        sp = None if not server else {"median": server["p50"], "min": server["min"], "max": server["max"],
                                       "n": server["count"]}
        ok = not five.get("not_implemented") and sp is not None
        out.append(_row("XPD cancelar, 500 folios, in the server (journal duration)", f"<= {XPD_500_MS:g} ms", sp,
                        sp["median"] <= XPD_500_MS if ok else None, unit=" ms",
                        note=f"server CPU {five['server_cpu_ms_per_request']} ms per request; "
                             f"verify_cancelacion alone {five['verify_cancelacion_cpu_ms_median']} ms"))
    cold = results.get("cold_start") or {}
    two = cold.get("workers_2")
    if two:
        runs = two.get("runs_s") or []
        sp = None if not runs else {"median": two["median_s"], "min": min(runs), "max": two["max_s"], "n": len(runs)}
        hung = two.get("hung_starts", 0)
        out.append(_row("Cold start to a healthy /__admin/health, 2 workers", f"<= {COLD_START_S:g} s", sp,
                        None if sp is None else sp["median"] <= COLD_START_S and not hung, unit=" s",
                        note=f"{hung} of {two['starts']} starts hung" if hung else ""))
        idle = two.get("idle_rss_mb")
        out.append(_row("Idle RSS of the whole server (2 workers), each process's RSS summed", f"<= {IDLE_RSS_MB:g} MB",
                        idle, None if idle is None else idle["median"] <= IDLE_RSS_MB, unit=" MB",
                        note="pages the workers share with the main process counted once per process"))
        pss = two.get("idle_pss_mb")
        if pss:
            out.append(_row("Idle memory of the whole server (2 workers), shared pages counted once (PSS)",
                            f"<= {IDLE_RSS_MB:g} MB", pss, pss["median"] <= IDLE_RSS_MB, unit=" MB"))
    big = (results.get("ingest") or {}).get("40MB")
    if big and "seconds_spread" in big:
        ok = big["accepted"]
        note = "" if ok else ("not accepted: " + (big.get("answer_excerpt") or ""))
        sp = big["seconds_spread"]
        out.append(_row("MYSuite 40 MB ASYNC_CONVERT_NATIVE_XML accepted", f"<= {INGEST_40MB_S:g} s", sp,
                        sp["median"] <= INGEST_40MB_S if ok else None, unit=" s", note=note))
        sp = big["growth_x_spread"]
        out.append(_row("MYSuite 40 MB: server RSS growth", f"<= {INGEST_GROWTH_X:g}x the document", sp,
                        sp["median"] <= INGEST_GROWTH_X if ok else None, unit="x", note=note))
    return out


def _mark(reached: bool | None) -> str:
    return {True: "reached", False: "**missed**", None: "pending"}[reached]


def _cpu(row: dict) -> str:
    cpu = row.get("cpu") or {}
    return f"{cpu.get('server_cpu_pct')} / {cpu.get('other_cpu_pct')}" if cpu else "-"


def _ms(d: dict | None) -> str:
    return f"{d['p50']} / {d['p99']}" if d else "-"


def _spread_median(sp: dict | None) -> str:
    return "-" if not sp else f"median {sp['median']} (spread {sp['min']} – {sp['max']})"


def _rounds_tables(r: dict) -> list[str]:
    ratios = r.get("ratios") or {}
    lines: list[str] = []
    if ratios.get("rounds"):
        lines += ["", f"## Rounds (req/s, p99 ms; WireMock {ratios.get('wiremock_version')})", ""]
        names = list(ratios["rounds"][0])
        lines.append("| round | " + " | ".join(names) + " |")
        lines.append("|---|" + "---|" * len(names))
        for i, row in enumerate(ratios["rounds"], 1):
            cells = []
            for name in names:
                item = row[name]
                if "ours" in item:
                    o, b = item["ours"], item["bare"]
                    cells.append(f"ours {o['rps']:.0f} / {o['p99_ms']}, bare {b['rps']:.0f} / {b['p99_ms']}")
                else:
                    cells.append(f"{item['rps']:.0f} / {item['p99_ms']}")
            lines.append(f"| {i} | " + " | ".join(cells) + " |")
        s = ratios.get("summary") or {}
        lines.append("")
        lines.append(f"Peak RSS during SF rounds: ours {_spread_median(s.get('ours peak rss mb'))} MB, "
                     f"WireMock {_spread_median(s.get('wiremock peak rss mb'))} MB.")
    settings = r.get("settings") or {}
    if settings.get("summary"):
        lines += ["", "## Server settings (`pac-mock serve`, workers x active threads, SF cancelarAsincrono)", "",
                  "| workers x active threads | req/s median (spread) | p99 ms median (spread) | peak RSS MB | errors |",
                  "|---|---|---|---|---|"]
        for key, v in settings["summary"].items():
            lines.append(f"| {key} | {v['rps']['median']:g} ({v['rps']['min']:g} – {v['rps']['max']:g}) | "
                         f"{v['p99_ms']['median']:g} ({v['p99_ms']['min']:g} – {v['p99_ms']['max']:g}) | "
                         f"{v['peak_rss_mb']['median']:g} | {v['errors']} |")
        best = settings.get("best")
        if best:
            lines += ["", f"Best measured: {best['setting']} ({best['rps']:g} req/s, p99 {best['p99_ms']:g} ms; "
                          f"within 5 % of the best throughput: {', '.join(best['near_best'])})."]
    return lines


def markdown(r: dict) -> str:
    m = r["meta"]
    lines = [
        f"# pac-mock benchmark, {m['date']} (commit {m['commit']})",
        "",
        f"{m['cpu']}, {m['cores']} cores; Python {m['python']}, granian {m['granian']}, Flask {m['flask']}, "
        f"lxml {m['lxml']}; {m['wrk']}, {m['connections']} connections, {m['wrk_threads']} wrk thread(s), "
        f"ratios from {m.get('rounds')} alternating rounds of {m.get('round_seconds')} s per server "
        f"(ours, bare route, WireMock); the operations table {m['duration_s']:g} s each. Servers: "
        f"`pac-mock serve` with its default settings, fresh data dir. Load average at the end: "
        f"{m.get('load_average_at_end')} (at the start {m.get('load_average')}); CPU used by other jobs "
        f"during the rounds: {_spread_median(((r.get('ratios') or {}).get('summary') or {}).get('other cpu %'))} % "
        f"of 2 cores. Whole run: {m.get('seconds')} s.",
        "",
        "## Targets",
        "",
        "Median over the rounds, spread = lowest – highest round; reached = the median meets the goal.",
        "",
        "| target | goal | median | spread | reached? |",
        "|---|---|---|---|---|",
    ]
    for t in r.get("targets", []):
        note = f" ({t['note']})" if t.get("note") else ""
        lines.append(f"| {t['target']} | {t['goal']} | {t['median']} | {t['spread']} | {_mark(t['reached'])}{note} |")
    lines += _rounds_tables(r)
    wm = r.get("wiremock")
    ops = _ops(r)
    if wm:
        lines += [
            "",
            f"## Ours / WireMock {wm['version']} (same SF cancelarAsincrono request, fresh UUID each)",
            "",
        ]
        lines += ["| | pac-mock | WireMock | ours/WireMock |", "|---|---|---|---|"]
        for name in ("sf.cancelarAsincrono", "xpd.cancelar"):
            op = ops.get(name)
            if not op:
                continue
            lines.append(
                f"| {name} req/s | {op['rps']:.0f} | {wm['rps']:.0f} | {_ratio(op['rps'], wm['rps'])} |"
            )
            lines.append(
                f"| {name} p99 ms | {op['p99_ms']} | {wm['p99_ms']} | {_ratio(op['p99_ms'], wm['p99_ms'])} |"
            )
            lines.append(
                f"| {name} peak RSS MB | {op['peak_rss_mb']} | {wm['peak_rss_mb']} | {_ratio(op['peak_rss_mb'], wm['peak_rss_mb'])} |"
            )
        sf_op = ops.get("sf.cancelarAsincrono")
        if sf_op:
            lines.append(
                f"| CPU used, % of {m['cores']} cores (server / other jobs) | {_cpu(sf_op)} | {_cpu(wm)} | |"
            )
        cold = (r.get("cold_start") or {}).get(f"workers_{m['workers']}")
        if cold and cold.get("median_s"):
            lines.append(
                f"| cold start s | {cold['median_s']} | {wm['cold_start_s']} | {_ratio(cold['median_s'], wm['cold_start_s'])} |"
            )
    if ops:
        lines += ["", f"## Operations at {m['connections']} connections", ""]
        lines += [
            "| operation | req/s | p50 ms | p99 ms | in server p50 / p99 ms | peak RSS MB | CPU server / other % | answer |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for op in ops.values():
            answer = "not implemented" if op["probe"]["not_implemented"] else str(op["probe"]["status"])
            if op["non_2xx"]:
                answer += f", {op['non_2xx']} non-2xx"
            lines.append(
                f"| {op['name']} | {op['rps']:.0f} | {op['p50_ms']} | {op['p99_ms']} | {_ms(op.get('server_ms'))} | "
                f"{op['peak_rss_mb']} | {_cpu(op)} | {answer} |"
            )
    five = r.get("xpd_500")
    ingest = r.get("ingest") or {}
    if five or ingest:
        lines += ["", "## Large requests", "", "| what | time | memory | answer |", "|---|---|---|---|"]
    if five:
        lines.append(
            f"| XPD cancelar, 500 folios ({five['request_kb']} KB) | in server {_ms(five.get('server_ms'))} ms "
            f"(CPU {five['server_cpu_ms_per_request']} ms), client median {five['client_ms_median']} ms; "
            f"verify_cancelacion alone {five['verify_cancelacion_cpu_ms_median']} ms CPU | "
            f"- | {'not implemented' if five['not_implemented'] else 'ok'} |"
        )
    for label, item in ingest.items():
        if not isinstance(item, dict):
            lines.append(f"| MYSuite ingest | - | - | {item} |")
            continue
        answer = (
            "accepted"
            if item["accepted"]
            else ("not implemented" if item["not_implemented"] else f"HTTP {item['status']}, not accepted")
        )
        lines.append(
            f"| MYSuite ASYNC_CONVERT_NATIVE_XML {label} (document {item['document_mb']} MB, request "
            f"{item['request_mb']} MB) | {item['seconds']} s | +{item['rss_growth_mb']} MB "
            f"({item['rss_growth_x_document']}x document), peak {item['peak_rss_mb']} MB | {answer} |"
        )
    servers = r.get("servers")
    if servers:
        lines += ["", "## WSGI servers on SF cancelarAsincrono", ""]
        lines += [
            "| server | req/s | p50 ms | p99 ms | peak RSS MB | cold start s | CPU server / other % |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in servers:
            if "rps" not in s:
                lines.append(f"| {s['describe']} | {s.get('skipped') or s.get('error')} | | | | | |")
                continue
            lines.append(
                f"| {s['describe']} | {s['rps']:.0f} | {s['p50_ms']} | {s['p99_ms']} | {s['peak_rss_mb']} | "
                f"{s['cold_start_s']} | {_cpu(s)} |"
            )
    rec = r.get("recommendation")
    if rec:
        lines += ["", f"Best measured configuration: {rec['describe']} ({rec['why']})."]
    prof = r.get("profile")
    if prof:
        lines += ["", "## Where a request's time goes (in-process, no HTTP; CPU µs per request)", ""]
        lines.append(
            "Times nest (the dispatcher includes the handler, a handler includes its transactions); "
            "`x n` = calls per request."
        )
        for name, item in prof.items():
            b = item.get("breakdown") or {}
            lines += [
                "",
                f"**{name}**: {b.get('cpu_us_per_request')} µs CPU per request "
                f"({b.get('sql_statements_per_request')} SQL statements), about "
                f"{item['in_process'].get('cpu_bound_rps_per_core')} requests/s per core before HTTP.",
                "",
                "| function | CPU µs | calls |",
                "|---|---|---|",
            ]
            for label, v in (b.get("functions_cpu_us") or {}).items():
                lines.append(f"| {label} | {v['us']} | {v['calls']} |")
    start_cpu = r.get("startup_cpu")
    if start_cpu and "cpu_s" in start_cpu:
        lines += ["", "## Start-up of one server process (CPU s)", ""]
        lines.append(
            " / ".join(f"{k} {v}" for k, v in start_cpu["cpu_s"].items())
            + f"; total {start_cpu['total_cpu_s']} s."
        )
        lines.append(
            "Heaviest imports (ms, cumulative): "
            + ", ".join(f"{k} {v}" for k, v in start_cpu["heaviest_imports_ms"].items())
            + "."
        )
    scripts = r.get("provider_scripts")
    if scripts:
        lines += ["", "## Provider benchmark scripts", ""]
        for name, item in scripts.items():
            if item.get("missing"):
                lines.append(f"- `bench/{name}.py`: not present")
            elif "error" in item:
                lines.append(f"- `bench/{name}.py`: failed: {item['error']}")
            elif "skipped" in item:
                lines.append(f"- `bench/{name}.py`: skipped ({item['skipped']})")
            else:
                text = json.dumps(item["result"], ensure_ascii=False, default=str)
                lines.append(f"- `bench/{name}.py` ({item['seconds']} s): `{text[:600]}`")
    skipped = r.get("skipped")
    if skipped:
        lines += ["", "Skipped: " + "; ".join(f"{k} ({v})" for k, v in skipped.items())]
    errors = r.get("errors")
    if errors:
        lines += ["", "Failed sections: " + "; ".join(f"{k}: {v}" for k, v in errors.items())]
    return "\n".join(lines) + "\n"
