"""``pac-mock serve | check | sample | report | fixtures | sign``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from . import __version__


def _serve(args: argparse.Namespace) -> int:
    from . import scenarios as scenario_module
    from .providers import all_providers
    from .settings import Settings

    try:
        settings = Settings.load(args.config).with_overrides(
            host=args.host,
            port=args.port,
            scenarios=args.scenarios,
            data_dir=args.data_dir,
            store=args.store,
            workers=args.workers,
            threads=args.threads,
            active_threads=args.active_threads,
            memory=True if args.memory else None,
            tls=True if args.tls else None,
            tls_port=args.tls_port,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
        )
    except ValueError as exc:
        print(f"pac-mock: {exc}", file=sys.stderr)
        return 2
    scenario_path = scenarios_in_use(settings)
    errors = scenario_module.check_file(scenario_path)
    if errors:
        print(f"pac-mock: {scenario_path} is not valid:", file=sys.stderr)
        print("\n".join("  " + e for e in errors), file=sys.stderr)
        return 2
    for warning in scenario_module.load_file(scenario_path).summary()["warnings"]:
        print(f"pac-mock: WARNING: {scenario_path}: {warning}", file=sys.stderr)
    settings = settings.with_overrides(scenarios=scenario_path)
    if settings.memory and settings.workers > 1:
        if args.workers is not None or os.environ.get("PAC_MOCK_WORKERS"):
            print("pac-mock: --memory keeps state in one process; use --workers 1", file=sys.stderr)
            return 2
        settings = settings.with_overrides(workers=1)
    if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.admin_token:
        print(
            f"pac-mock: WARNING: listening on {settings.host} with no PAC_MOCK_ADMIN_TOKEN: anyone who can "
            "reach this port can reset state and read the request journal.",
            file=sys.stderr,
        )

    def banner() -> str:
        base = settings.base_url
        lines = [f"pac-mock {__version__} ready on {base}  (scenarios: {scenario_path})"]
        for provider in all_providers():
            for service in provider.services:
                env = f" [{service.environment}]" if service.environment else ""
                lines.append(f"  {provider.title:<18} {base}{service.paths[0]}{env}   WSDL: ?wsdl")
        lines.append(f"  {'Admin API':<18} {base}/__admin/health   dashboard: {base}/__admin/")
        if settings.tls:
            lines.append(f"  {'HTTPS':<18} {settings.tls_base_url}  (same paths; CA: pac-mock tls ca)")
        lines.append(f"  state: {settings.store_label}   Ctrl+C stops")
        return "\n".join(lines)

    if settings.tls and settings.memory:
        print("pac-mock: --tls runs HTTPS in a second server that shares state through the data "
              "directory; drop --memory", file=sys.stderr)
        return 2

    from .server import StartupError, serve

    try:
        serve(settings, banner=banner())
    except StartupError as exc:
        print(f"pac-mock: {exc}", file=sys.stderr)
        return 2
    return 0


def scenarios_in_use(settings) -> Path:
    """The file ``serve`` loads: ``--scenarios`` / ``PAC_MOCK_SCENARIOS``, else ./scenarios.yaml, else
    the built-in defaults."""
    from . import scenarios as scenario_module

    local = Path("scenarios.yaml")
    return settings.scenarios or (local.resolve() if local.is_file() else scenario_module.default_path())


def _check(args: argparse.Namespace) -> int:
    from . import scenarios as scenario_module
    from .settings import Settings

    files = args.files
    if not files:
        try:
            files = [scenarios_in_use(Settings.load(args.config))]
        except ValueError as exc:
            print(f"pac-mock: {exc}", file=sys.stderr)
            return 2
        print(f"checking {files[0]} (what `pac-mock serve` would load here)")
    status = 0
    for path in files:
        try:
            sc = scenario_module.load_file(Path(path))
        except scenario_module.ScenarioError as exc:
            status = 1
            print("\n".join(exc.errors), file=sys.stderr)
            continue
        summary = sc.summary()
        print(f"{path}: OK")
        if len(summary["layers"]) > 1:
            print("  builds on: " + " <- ".join(summary["layers"][:-1]))
        for pid, users in summary["accounts"].items():
            print(f"  {pid}: {len(users)} account{'s' if len(users) != 1 else ''}"
                  + (f" ({', '.join(users)})" if users else ""))
        print(f"  rules: {', '.join(summary['rules']) or '(none)'}")
        for warning in summary["warnings"]:
            print(f"  WARNING: {warning}")
    return status


def _sample(args: argparse.Namespace) -> int:
    from .scenarios import parse_size
    from .testing.mysuite import native_document

    try:
        size = parse_size(args.size)
    except ValueError as exc:
        print(f"pac-mock: --size: {exc}", file=sys.stderr)
        return 2
    data = native_document(size, entity=args.entity, serie=args.serie, folio=args.folio, seed=args.seed)
    if args.base64:
        import base64

        data = base64.b64encode(data)
    if args.out:
        try:
            args.out.write_bytes(data)
        except OSError as exc:
            print(f"pac-mock: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"wrote a MYSuite native document of {len(data)} bytes to {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


def _report(args: argparse.Namespace) -> int:
    import json

    from . import conformance

    try:
        summary = conformance.report_for(args.target, args.session, token=args.token)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"pac-mock report: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print(conformance.report_text(summary, summary["session"]))
    return 1 if args.fail_on_error and summary["severities"].get("error") else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pac-mock", description="A local sandbox for Mexican CFDI providers.")
    parser.add_argument("--version", action="version", version=f"pac-mock {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the sandbox server")
    serve.add_argument("--config", type=Path, help="a TOML settings file (PAC_MOCK_CONFIG); flags and env win")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1; PAC_MOCK_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8080; PAC_MOCK_PORT)")
    serve.add_argument("--scenarios", type=Path, help="scenarios file (default ./scenarios.yaml; PAC_MOCK_SCENARIOS)")
    serve.add_argument("--data-dir", type=Path, help="where state is kept (default ./data; PAC_MOCK_DATA_DIR)")
    serve.add_argument("--store", help="sqlite:///path (default <data-dir>/pac-mock.sqlite3) or postgresql://… "
                       "for replicas sharing one database (PAC_MOCK_STORE)")
    serve.add_argument("--workers", type=int, help="worker processes (default 2; PAC_MOCK_WORKERS)")
    serve.add_argument("--threads", type=int, help="request threads per worker (default 256; PAC_MOCK_THREADS)")
    serve.add_argument(
        "--active-threads",
        type=int,
        help="of those, how many take calls at once; a call that waits has a stand-in meanwhile (default 1; PAC_MOCK_ACTIVE_THREADS)",
    )
    serve.add_argument("--memory", action="store_true", help="keep state in memory only (one worker)")
    serve.add_argument("--tls", action="store_true", help="serve HTTPS too, on --tls-port (PAC_MOCK_TLS)")
    serve.add_argument("--tls-port", type=int, help="HTTPS port (default 8443; PAC_MOCK_TLS_PORT)")
    serve.add_argument("--tls-cert", type=Path, help="your own server certificate (PEM chain) instead of the local CA's")
    serve.add_argument("--tls-key", type=Path, help="the key of --tls-cert (PEM, unencrypted)")
    serve.set_defaults(func=_serve)

    check = sub.add_parser("check", help="validate scenarios files and show what they amount to")
    check.add_argument("files", nargs="*", type=Path,
                       help="files to check (default: the one `serve` would load here)")
    check.add_argument("--config", type=Path, help="the TOML settings file `serve` would use (PAC_MOCK_CONFIG)")
    check.set_defaults(func=_check)

    sample = sub.add_parser("sample", help="write a sample request document (MYSuite native XML)")
    sample.add_argument("provider", choices=["mysuite"], help="whose document")
    sample.add_argument("--size", default="1.5MB",
                        help="about this big: bytes or 1.5MB, 2MiB (default 1.5MB; MYSuite's async service "
                             "takes above 1MB up to 4MB in pruebas)")
    sample.add_argument("--entity", default="JES900109Q90", help="RFC of the issuer (the request's Entity)")
    sample.add_argument("--serie", default="A")
    sample.add_argument("--folio", default="1")
    sample.add_argument("--seed", type=int, default=0, help="another seed gives other Conceptos")
    sample.add_argument("--base64", action="store_true", help="base64-encode it (what Data1 carries)")
    sample.add_argument("--out", "-o", type=Path, help="write to FILE instead of standard output")
    sample.set_defaults(func=_sample)

    report = sub.add_parser("report", help="the conformance findings of a session (docs/conformance.md)")
    report.add_argument("target", help="a running sandbox's URL, or a data directory (or its .sqlite3 file)")
    report.add_argument("--session", default="default", help="which session (default: the default one)")
    report.add_argument("--json", action="store_true", help="print the summary as JSON")
    report.add_argument("--token", default=os.environ.get("PAC_MOCK_ADMIN_TOKEN"),
                        help="admin token of the server (PAC_MOCK_ADMIN_TOKEN)")
    report.add_argument("--fail-on-error", action="store_true",
                        help="exit with status 1 when the session has findings of severity error")
    report.set_defaults(func=_report)

    from .sat import commands as sat_commands

    sat_commands.register(sub)
    from . import tls

    tls.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
