"""``make bench``: fast mode on the three scenarios (every policy), printed as one table.

Fast mode runs the server's dispatch core (``dispatcher.core``) in simulated time, so these are
figures of the server's logic. Figures, never timed assertions: the machine is shared. ``cpu s``
is the CPU time of one policy's simulation; the longhu row answers the issue's target (30 days
in under 60 s on one core).
Run: ``.venv/bin/python -c "from bench.simulator import run; run()"``.
"""

from __future__ import annotations

from simulator.fast import study
from simulator.scenario import load
from simulator.text import fast_table


def run() -> None:
    results = []
    for name in ("longhu", "city", "surge"):
        result = study(load(name))
        results.append(result)
        print(f"{name}: {result['requests']} calls, {result['wall_s']} s wall in all", flush=True)
    print(fast_table(results))
