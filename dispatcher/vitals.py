"""Which vital-sign readings open an emergency (pure).

Only readings the device marks valid, with values above zero, count: watches report a failed
measurement as 0 or "invalid", and a false emergency sends a helper running for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from device_protocol import VitalsReport


@dataclass(frozen=True)
class VitalThresholds:
    heart_rate_low: int = 40
    heart_rate_high: int = 150
    spo2_low: int = 88
    systolic_low: int = 80
    systolic_high: int = 200
    temperature_high: float = 39.5


def abnormal_vitals(report: VitalsReport, limits: VitalThresholds) -> list[str]:
    """Short descriptions of every valid reading beyond its threshold (empty when all is well)."""
    findings: list[str] = []
    hr = report.heart_rate
    if hr is not None and hr.is_valid:
        if hr.bpm < limits.heart_rate_low:
            findings.append(f"heart rate {hr.bpm} bpm (< {limits.heart_rate_low})")
        elif hr.bpm > limits.heart_rate_high:
            findings.append(f"heart rate {hr.bpm} bpm (> {limits.heart_rate_high})")
    spo2 = report.spo2
    if spo2 is not None and spo2.is_valid and spo2.pct < limits.spo2_low:
        findings.append(f"SpO2 {spo2.pct}% (< {limits.spo2_low}%)")
    bp = report.blood_pressure
    if bp is not None and bp.is_valid:
        if bp.systolic < limits.systolic_low:
            findings.append(
                f"blood pressure {bp.systolic}/{bp.diastolic} (systolic < {limits.systolic_low})"
            )
        elif bp.systolic > limits.systolic_high:
            findings.append(
                f"blood pressure {bp.systolic}/{bp.diastolic} (systolic > {limits.systolic_high})"
            )
    temp = report.temperature
    if temp is not None and temp.is_valid and temp.celsius > limits.temperature_high:
        findings.append(f"temperature {temp.celsius:.1f} °C (> {limits.temperature_high})")
    return findings
