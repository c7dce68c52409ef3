"""Targets, the recommended worker count, and the Markdown summary of a run."""

from __future__ import annotations

import json

# The targets of the sandbox, checked on every run (ratios are measured in the same run).
SF_VS_WIREMOCK = 2.0
SF_P99_MS = 20.0
XPD_VS_WIREMOCK = 1.0
VERIFY_500_MS = 10.0
INGEST_40MB_S = 1.0
INGEST_GROWTH_X = 3.0
COLD_START_S = 1.0


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


def targets(results: dict) -> list[dict]:
    ops = _ops(results)
    wm = results.get("wiremock") or {}
    out = []
    sf, xpd = ops.get("sf.cancelarAsincrono"), ops.get("xpd.cancelar")
    pending = "operation not implemented yet (answers a fault)"

    if sf is not None and wm:
        ratio = _ratio(sf["rps"], wm.get("rps"))
        ok = _works(sf)
        out.append(_target(
            "SF cancelarAsincrono throughput",
            f">= {SF_VS_WIREMOCK:g}x WireMock (XPath-matched canned)",
            f"{sf['rps']:.0f} vs {wm['rps']:.0f} req/s = {ratio}x",
            (ratio is not None and ratio >= SF_VS_WIREMOCK) if ok else None,
            "" if ok else pending,
        ))  # fmt: skip
    if sf is not None:
        ok = _works(sf)
        out.append(_target(
            "SF cancelarAsincrono p99",
            f"<= {SF_P99_MS:g} ms at {sf['connections']} connections",
            f"{sf['p99_ms']} ms",
            sf["p99_ms"] <= SF_P99_MS if ok else None,
            "" if ok else pending,
        ))  # fmt: skip
    if xpd is not None and wm:
        ratio = _ratio(xpd["rps"], wm.get("rps"))
        ok = _works(xpd)
        out.append(_target(
            "XPD cancelar (1 folio, signature checked)",
            f">= {XPD_VS_WIREMOCK:g}x WireMock",
            f"{xpd['rps']:.0f} vs {wm['rps']:.0f} req/s = {ratio}x",
            (ratio is not None and ratio >= XPD_VS_WIREMOCK) if ok else None,
            "" if ok else pending,
        ))  # fmt: skip
    five = results.get("xpd_500")
    if five:
        server = (five.get("server_ms") or {}).get("p50")
        ok = not five.get("not_implemented") and server is not None
        out.append(_target(
            "500-folio verification in the server",
            f"<= {VERIFY_500_MS:g} ms",
            f"{server} ms per request in the server (journal wall time; server CPU "
            f"{five['server_cpu_ms_per_request']} ms); verify_cancelacion alone {five['verify_cancelacion_cpu_ms_median']} ms CPU",
            (server <= VERIFY_500_MS) if ok else None,
            "" if ok else "XPD cancelar not implemented yet; verify_cancelacion alone shown",
        ))  # fmt: skip
    big = (results.get("ingest") or {}).get("40MB")
    if big:
        ok = big["accepted"]
        note = (
            ""
            if ok
            else (
                "operation not implemented yet"
                if big["not_implemented"]
                else "not accepted: " + (big.get("answer_excerpt") or "")
            )
        )
        out.append(_target(
            "MYSuite 40 MB ASYNC_CONVERT_NATIVE_XML accepted",
            f"<= {INGEST_40MB_S:g} s",
            f"{big['seconds']} s",
            big["seconds"] <= INGEST_40MB_S if ok else None,
            note,
        ))  # fmt: skip
        out.append(_target(
            "MYSuite 40 MB server RSS growth",
            f"<= {INGEST_GROWTH_X:g}x the document",
            f"{big['rss_growth_mb']} MB = {big['rss_growth_x_document']}x of {big['document_mb']} MB",
            big["rss_growth_x_document"] <= INGEST_GROWTH_X if ok else None,
            note,
        ))  # fmt: skip
    cold = results.get("cold_start") or {}
    if cold:
        times = [v["max_s"] for v in cold.values() if v.get("max_s") is not None]
        hung = sum(v.get("hung_starts", 0) for v in cold.values())
        starts = sum(v.get("starts", 0) for v in cold.values())
        measured = ", ".join(
            f"{k.replace('_', ' ')}: median {v['median_s']} s, max {v['max_s']} s" for k, v in cold.items()
        )
        if hung:
            measured += f"; {hung} of {starts} starts hung (no answer within 8 s)"
        out.append(_target(
            "Cold start to a healthy /__admin/health",
            f"<= {COLD_START_S:g} s",
            measured,
            bool(times) and max(times) <= COLD_START_S and not hung,
            "a hung start is a worker deadlocked at fork (see docs/performance.md)" if hung else "",
        ))  # fmt: skip
    return out


def recommend(results: dict) -> dict | None:
    """Workers and blocking threads for granian: the best SF throughput among the configurations
    whose p99 is within twice the lowest p99 measured (fewer processes and threads on a tie)."""
    rows = [r for r in results.get("servers", []) if r.get("name", "").startswith("granian-w") and "rps" in r]
    rows = [r for r in rows if "writelock" not in r["name"]]
    if not rows:
        return None
    best_p99 = min(r["p99_ms"] for r in rows)
    eligible = [r for r in rows if r["p99_ms"] <= max(2 * best_p99, SF_P99_MS)]
    top = max(r["rps"] for r in eligible)
    choice = min(
        (r for r in eligible if r["rps"] >= 0.95 * top),
        key=lambda r: (r["name"].count("-w2") + 2 * r["name"].count("-w3"), r["name"]),
    )
    return {
        "server": choice["name"],
        "describe": choice["describe"],
        "why": f"{choice['rps']:.0f} req/s, p99 {choice['p99_ms']} ms on SF cancelarAsincrono; the lowest p99 "
        f"measured was {best_p99} ms and the best throughput {max(r['rps'] for r in rows):.0f} req/s",
    }


def _mark(reached: bool | None) -> str:
    return {True: "reached", False: "**missed**", None: "pending"}[reached]


def _cpu(row: dict) -> str:
    cpu = row.get("cpu") or {}
    return f"{cpu.get('server_cpu_pct')} / {cpu.get('other_cpu_pct')}" if cpu else "-"


def _ms(d: dict | None) -> str:
    return f"{d['p50']} / {d['p99']}" if d else "-"


def markdown(r: dict) -> str:
    m = r["meta"]
    lines = [
        f"# pac-mock benchmark, {m['date']} (commit {m['commit']})",
        "",
        f"{m['cpu']}, {m['cores']} cores; Python {m['python']}, granian {m['granian']}, Flask {m['flask']}, "
        f"lxml {m['lxml']}; {m['wrk']}, {m['connections']} connections, {m['wrk_threads']} wrk thread(s), "
        f"{m['duration_s']:g} s per measurement (headline operations x1.6). Main server: "
        f"`pac-mock serve --workers {m['workers']}`, fresh data dir. Whole run: {m.get('seconds')} s.",
        "",
        "## Targets",
        "",
        "| target | goal | measured | result |",
        "|---|---|---|---|",
    ]
    for t in r.get("targets", []):
        note = f" ({t['note']})" if t.get("note") else ""
        lines.append(f"| {t['target']} | {t['goal']} | {t['measured']} | {_mark(t['reached'])}{note} |")
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
