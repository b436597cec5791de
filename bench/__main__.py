"""``make bench``: every benchmark, each printing its figures beside a reference from the same run.

Figures, never timed assertions: these machines are shared and noisy.
"""

from __future__ import annotations

import importlib
import sys

SUITES = [
    ("matching: one decision over 10,000 helpers", "bench.matching"),
    ("MQTT adapter: QoS 1 telemetry in, acknowledged", "bench.mqtt_ingest"),
    ("whole server: telemetry committed, SOS-to-ack latency", "bench.pipeline"),
    ("simulator: fast mode on the scenarios", "bench.simulator"),
    ("poison fuzz: hostile frames on every topic, PostgreSQL", "bench.poison_fuzz"),
]


def main(argv: list[str]) -> int:
    wanted = set(argv)
    for title, module in SUITES:
        if wanted and module.split(".")[-1] not in wanted:
            continue
        print(f"\n== {title} ({module})", flush=True)
        importlib.import_module(module).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
