"""``python -m simulator {demo,fast,live}``: the demo's devices, a fast policy study, a live run.

* ``demo --api URL --mqtt URL --sos-every S``: devices and helpers for ``huyuan demo``.
* ``fast --scenario longhu --days 30``: every policy on one request stream, in simulated time.
* ``live --scenario small --api URL --mqtt URL --speed 60 --duration 30``: against a server.

fast and live write ``<out>/<scenario>-<mode>.json`` and ``.html`` and print a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

import orjson
import structlog

from simulator.demo import DemoConfig, DemoRun
from simulator.policy import POLICIES
from simulator.report import render
from simulator.scenario import load
from simulator.text import fast_table, live_text


def _write(result: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{result['scenario']}-{result['mode']}"
    stem.with_suffix(".json").write_bytes(
        orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    stem.with_suffix(".html").write_text(render(result), encoding="utf-8")
    return stem


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="devices and helpers for `huyuan demo`")
    demo.add_argument("--api", required=True, help="server base URL, e.g. http://127.0.0.1:8000")
    demo.add_argument("--mqtt", required=True, help="broker URL, e.g. mqtt://127.0.0.1:1883")
    demo.add_argument("--sos-every", type=float, default=20.0, help="mean seconds between SOS")
    for name in ("fast", "live"):
        p = sub.add_parser(name, help=f"{name} mode (see docs/simulator.md)")
        p.add_argument("--scenario", default="longhu", help="shipped name or path to a .toml")
        p.add_argument("--out", type=Path, default=Path("var/simulator"), help="report folder")
    fast = sub.choices["fast"]
    fast.add_argument("--days", type=float, default=None, help="default: the scenario's")
    fast.add_argument(
        "--policy", action="append", choices=sorted(POLICIES), help="repeat; default all"
    )
    live = sub.choices["live"]
    live.add_argument("--api", required=True)
    live.add_argument("--mqtt", required=True)
    live.add_argument("--speed", type=float, default=1.0, help="scenario seconds per real second")
    live.add_argument("--duration", type=float, default=None, help="real seconds of calls")
    live.add_argument("--start-hour", type=float, default=9.0, help="scenario clock at start")
    live.add_argument("--settle", type=float, default=30.0, help="seconds to let cases finish")
    live.add_argument("--in-flight", type=int, default=200, help="most unacked QoS 1 messages")
    live.add_argument("--max-rate", type=float, default=500.0, help="telemetry messages/s cap")
    live.add_argument(
        "--api-token",
        default=os.environ.get("HUYUAN_API_TOKEN"),
        help="bearer token, for a server with HUYUAN_API_TOKENS set (default: $HUYUAN_API_TOKEN)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    if args.command == "demo":
        config = DemoConfig(api=args.api, mqtt=args.mqtt, sos_every_s=args.sos_every)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(DemoRun(config).run())
        return 0
    scenario = load(args.scenario)
    if args.command == "fast":
        from simulator.fast import study

        policies = [POLICIES[p] for p in args.policy] if args.policy else None
        result = study(scenario, days=args.days, policies=policies)
        print(fast_table([result]))
    else:
        from simulator.live import LiveConfig, run_live

        cfg = LiveConfig(
            scenario=scenario,
            api=args.api,
            mqtt=args.mqtt,
            speed=args.speed,
            duration_s=args.duration,
            start_hour=args.start_hour,
            settle_s=args.settle,
            in_flight=args.in_flight,
            max_rate=args.max_rate,
            api_token=args.api_token,
        )
        result = asyncio.run(run_live(cfg))
        print(live_text(result))
    stem = _write(result, args.out)
    print(f"wrote {stem}.json and {stem}.html")
    return 0 if result.get("lost", 0) == 0 and result.get("duplicated", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
