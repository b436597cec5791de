"""The district as the server's CSV import files (elders, devices, helpers).

The elder's reference is repeated in the address so that live mode can find the server's id for
an elder with ``GET /api/v1/elders?q=<ref>`` (the list endpoint has no lookup by reference).
"""

from __future__ import annotations

import csv
import io

from simulator.district import District

__all__ = ["devices_csv", "elders_csv", "helpers_csv"]


def _csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def elders_csv(district: District) -> str:
    return _csv(
        ["ref", "name", "age", "address", "community", "lat", "lon", "contacts"],
        [
            [
                e.ref,
                e.name,
                70 + (i * 7) % 25,
                f"汕头市龙湖区第{e.community + 1}社区 ({e.ref})",
                f"社区{e.community + 1}",
                f"{e.lat:.6f}",
                f"{e.lon:.6f}",
                "",  # no family contacts: a load test must not queue thousands of SMS
            ]
            for i, e in enumerate(district.elders)
        ],
    )


def devices_csv(district: District) -> str:
    return _csv(
        ["device_id", "elder_ref", "model", "report_interval_s"],
        [[e.device_id, e.ref, e.device_model, e.report_interval_s] for e in district.elders],
    )


def helpers_csv(district: District, on_duty: set[int]) -> str:
    return _csv(
        ["ref", "name", "phone", "role", "skills", "travel_mode", "on_duty", "lat", "lon"],
        [
            [
                h.ref,
                h.name,
                f"+86137{h.index:08d}",
                h.role,
                "",
                h.mode.value,
                "true" if h.index in on_duty else "false",
                f"{h.lat:.6f}",
                f"{h.lon:.6f}",
            ]
            for h in district.helpers
        ],
    )
