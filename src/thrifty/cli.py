"""The ``thrifty`` command: serve, keys, sim, report, prices, cache, batch.  It parses flags
and calls the library; it holds no pipeline logic."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from thrifty.config import Settings, load_settings
from thrifty.errors import ConfigError, ThriftyError


def _serve_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "gateway": {"host": args.host, "port": args.port},
        "ledger": {"path": args.ledger},
        "openai_base_url": args.openai_base_url,
        "anthropic_base_url": args.anthropic_base_url,
        "simulate": args.simulate,
    }


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_settings(args.config, **overrides)


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="thrifty: %(message)s", stream=sys.stderr)


def _quiet_exit_server_class() -> type[Any]:
    import signal
    import threading
    from collections.abc import Iterator

    import uvicorn

    class QuietExitServer(uvicorn.Server):
        """Stops gracefully on SIGINT/SIGTERM and lets the process exit 0 (uvicorn's own
        handler re-raises the signal after shutting down)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            originals = {
                sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
            }
            try:
                yield
            finally:
                for sig, handler in originals.items():
                    signal.signal(sig, handler)

    return QuietExitServer


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    import uvicorn

    from thrifty.gateway import create_app
    from thrifty.runtime import Thrifty

    _configure_logging()  # first: loading the settings names the config file it read
    settings = _settings(args, **_serve_overrides(args))
    _check_exposure(settings)
    thrifty = Thrifty(settings)
    gw = settings.gateway
    from thrifty.serving import (
        capacity,
        freeze_startup_heap,
        raise_open_file_limit,
        request_limits,
    )

    # Two descriptors per call in flight (the app's and the upstream's), plus the ledger's.
    raise_open_file_limit(gw.max_connections + gw.max_upstream_connections + 256)
    config = uvicorn.Config(
        create_app(thrifty),
        host=gw.host,
        port=gw.port,
        loop="auto",
        log_level="warning",
        access_log=False,
        lifespan="on",
        **request_limits(),  # a request must be sent in time (408) and within size (431)
        **capacity(gw.max_connections),  # a 503 beyond this many connections at once
    )
    server = _quiet_exit_server_class()(config)
    logging.getLogger("thrifty").info(
        "gateway on http://%s:%s (OpenAI: /v1/chat/completions, Anthropic: /v1/messages), "
        "ledger %s",
        gw.host,
        gw.port,
        settings.ledger.path,
    )

    async def serve() -> None:
        # Start the pipeline (ledger, simulator) before serving, so that a bad setting is
        # one clear error line rather than a traceback from the server's lifespan.  The
        # lifespan's own start() is then a no-op; its shutdown closes everything.
        try:
            try:
                await thrifty.start()
            except OSError as exc:
                raise ConfigError(f"the gateway could not start: {exc}") from exc
            freeze_startup_heap()  # the collector no longer walks what start-up made
            await server.serve()
        finally:
            await thrifty.aclose()

    try:
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(serve())
    except SystemExit:  # uvicorn exits this way when it cannot bind
        if server.started:
            raise
    if not server.started:
        print(
            f"thrifty: error: the gateway could not listen on {gw.host}:{gw.port} (see above); "
            "choose another with --port or THRIFTY_GATEWAY__PORT",
            file=sys.stderr,
        )
        return 3
    return 0


def _check_exposure(settings: Settings) -> None:
    """Refuse to serve beyond loopback without gateway keys (anyone who reaches the port
    would spend the provider keys); say how auth is set up otherwise."""
    from thrifty.gateway.auth import is_loopback_address
    from thrifty.gateway.keys import keys_path, read_keys

    path = keys_path(settings)
    active, count = read_keys(path)
    gw = settings.gateway
    log = logging.getLogger("thrifty")
    if count:
        log.info("gateway keys required (%d active, store %s)", len(active), path)
        if not active:
            log.warning("every gateway key is revoked: every request gets 401")
    elif not is_loopback_address(gw.host):
        raise ConfigError(
            f"refusing to listen on {gw.host}, beyond loopback, without gateway keys: anyone "
            "who reaches the port would spend your provider keys. Create a key with "
            "`thrifty keys create --tenant NAME` (apps send it as their API key), or bind "
            "to 127.0.0.1 with --host 127.0.0.1"
        )
    elif gw.require_auth:
        log.warning(
            "gateway.require_auth is set but no gateway key exists yet (store %s): every "
            "request gets 401 until you run `thrifty keys create --tenant NAME`",
            path,
        )
    else:
        log.info(
            "no gateway keys: answering only loopback requests (Host and Origin checked); "
            "`thrifty keys create --tenant NAME` to require keys"
        )


def cmd_keys(args: argparse.Namespace) -> int:
    from thrifty.commands import keys

    overrides: dict[str, Any] = {}
    if args.ledger:
        overrides["ledger"] = {"path": args.ledger}
    if args.keys_file:
        overrides["gateway"] = {"keys_path": args.keys_file}
    return keys.run(args, _settings(args, **overrides))


def cmd_sim(args: argparse.Namespace) -> int:
    from thrifty.sim import SimConfig, run

    _configure_logging()
    logging.getLogger("thrifty").info(
        "simulator on http://%s:%s (OpenAI: /v1/chat/completions, Anthropic: /v1/messages)",
        args.host,
        args.port,
    )
    config = SimConfig(latency_ms=args.latency_ms, stream_chunk_delay_ms=args.chunk_delay_ms)
    with contextlib.suppress(KeyboardInterrupt):
        run(config, args.host, args.port)
    return 0


def _epoch(day: str | None, flag: str) -> float | None:
    if day is None:
        return None
    try:
        return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ThriftyError(f"{flag} must be a date like 2026-01-31, got {day!r}") from None


def cmd_report(args: argparse.Namespace) -> int:
    import asyncio

    from thrifty.ledger import SqliteLedgerReader, build_report, render_report, report_to_json
    from thrifty.levers.cheaper.cascade.report import cascade_lines, render_lines

    settings = _settings(args, ledger={"path": args.ledger})
    since, until = _epoch(args.since, "--since"), _epoch(args.until, "--until")
    reader = SqliteLedgerReader(settings.ledger.path)
    report = asyncio.run(build_report(reader, since=since, until=until))
    cascades = cascade_lines(settings.ledger.path, since, until)
    if args.json:
        document = report_to_json(report)
        document["cascade"] = [line.to_json() for line in cascades]
        print(json.dumps(document, indent=2))
    else:
        print(render_report(report) + render_lines(cascades))
    return 0


def cmd_prices(args: argparse.Namespace) -> int:
    from thrifty.pricing import PriceBook, format_rates, rates_to_json

    settings = _settings(args)
    book = PriceBook(settings.prices)
    at = _epoch(args.at, "--at")
    day = datetime.fromtimestamp(at, UTC).date() if at is not None else datetime.now(UTC).date()
    rates = book.rates(args.model, provider=args.provider, at=at)
    if rates is None:
        message = (
            f"no known price for {args.model!r}"
            + (f" at provider {args.provider!r}" if args.provider else "")
            + ": calls to it are booked as 'unpriced'. Add [prices.\"MODEL\"] to thrifty.toml."
        )
        if args.json:
            print(json.dumps({"model": args.model, "priced": False, "message": message}))
        else:
            print(message, file=sys.stderr)
        return 1
    tiers = book.service_tiers(args.model, provider=args.provider, at=at)
    changes = book.price_changes(args.model, provider=args.provider)
    if args.json:
        data = rates_to_json(rates, service_tiers=tiers, price_changes=changes, as_of=day)
        print(json.dumps(data, indent=2))
    else:
        print(format_rates(rates, service_tiers=tiers, price_changes=changes, as_of=day))
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from thrifty.commands import cache

    return cache.run(args, _settings(args, ledger={"path": args.ledger}))


def cmd_shadow(args: argparse.Namespace) -> int:
    from thrifty.levers.cheaper.shadow import command as shadow

    args.since_ts, args.until_ts = _epoch(args.since, "--since"), _epoch(args.until, "--until")
    return shadow.run(args, _settings(args, ledger={"path": args.ledger}))


def cmd_batch(args: argparse.Namespace) -> int:
    from thrifty.commands import batch

    return batch.run(args, _settings(args, ledger={"path": args.ledger}))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thrifty", description="Cut what you pay for LLM calls without cutting quality."
    )
    parser.add_argument(
        "--config", help="TOML settings file (default: $THRIFTY_CONFIG or ./thrifty.toml)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    # `--config` is accepted after the subcommand too (`thrifty serve --config my.toml`).
    config_after = argparse.ArgumentParser(add_help=False)
    config_after.add_argument(
        "--config", default=argparse.SUPPRESS, help="TOML settings file (as before the command)"
    )

    serve = sub.add_parser(
        "serve", help="run the OpenAI/Anthropic-compatible gateway", parents=[config_after]
    )
    serve.add_argument("--host", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8787)")
    serve.add_argument("--ledger", help="SQLite ledger path (default thrifty.db)")
    serve.add_argument(
        "--openai-base-url",
        help="send all OpenAI-style traffic to this OpenAI-compatible base URL "
        "(e.g. http://127.0.0.1:8000/v1); env THRIFTY_OPENAI_BASE_URL",
    )
    serve.add_argument("--anthropic-base-url", help="send all Anthropic traffic to this base URL")
    serve.add_argument(
        "--simulate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="use the built-in simulator as upstream (default: when no provider key is set)",
    )
    serve.set_defaults(func=cmd_serve)

    from thrifty.commands.keys import add_parser as add_keys_parser

    add_keys_parser(sub, [config_after]).set_defaults(func=cmd_keys)

    sim = sub.add_parser(
        "sim",
        help="run the upstream simulator (OpenAI + Anthropic wire formats)",
        parents=[config_after],
    )
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8788)
    sim.add_argument("--latency-ms", type=float, default=0.0, help="added latency per call")
    sim.add_argument(
        "--chunk-delay-ms", type=float, default=0.0, help="delay between streamed chunks"
    )
    sim.set_defaults(func=cmd_sim)

    report = sub.add_parser(
        "report", help="spend and savings by day, task, model and lever", parents=[config_after]
    )
    report.add_argument("--ledger", help="SQLite ledger path (default from settings)")
    report.add_argument("--since", help="first day, YYYY-MM-DD (UTC)")
    report.add_argument("--until", help="day after the last, YYYY-MM-DD (UTC)")
    report.add_argument("--json", action="store_true", help="machine-readable output")
    report.set_defaults(func=cmd_report)

    prices = sub.add_parser(
        "prices", help="show the rates thrifty uses for a model", parents=[config_after]
    )
    prices.add_argument("model")
    prices.add_argument("--provider", help="price provider id, e.g. openai, anthropic")
    prices.add_argument("--at", help="prices in force on this day, YYYY-MM-DD (UTC; default today)")
    prices.add_argument("--json", action="store_true")
    prices.set_defaults(func=cmd_prices)

    from thrifty.commands.cache import add_parser as add_cache_parser

    add_cache_parser(sub, [config_after]).set_defaults(func=cmd_cache)
    from thrifty.commands.batch import add_parser as add_batch_parser

    add_batch_parser(sub, [config_after]).set_defaults(func=cmd_batch)
    __import__("thrifty.eval.command", fromlist=["register"]).register(sub, [config_after])
    from thrifty.levers.cheaper.learned.command import register as add_route_parser
    from thrifty.levers.cheaper.shadow.command import register as add_shadow_parser

    add_route_parser(sub, [config_after])
    add_shadow_parser(sub, [config_after]).set_defaults(func=cmd_shadow)
    __import__("thrifty.lint.command", fromlist=["add_parser"]).add_parser(sub, [config_after])
    __import__("thrifty.tokens.command", fromlist=["register"]).register(sub, [config_after])
    __import__("thrifty.commands.responses", fromlist=["register"]).register(sub, [config_after])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ThriftyError as exc:
        print(f"thrifty: error: {exc.message}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
