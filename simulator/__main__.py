"""``python -m simulator demo --api URL --mqtt URL``: synthetic devices and helpers for the demo."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

import structlog

from simulator.demo import DemoConfig, DemoRun


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="devices and helpers for `huyuan demo`")
    demo.add_argument("--api", required=True, help="server base URL, e.g. http://127.0.0.1:8000")
    demo.add_argument("--mqtt", required=True, help="broker URL, e.g. mqtt://127.0.0.1:1883")
    demo.add_argument("--sos-every", type=float, default=20.0, help="mean seconds between SOS")
    args = parser.parse_args(argv)
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    config = DemoConfig(api=args.api, mqtt=args.mqtt, sos_every_s=args.sos_every)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(DemoRun(config).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
