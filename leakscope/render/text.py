"""Small formatting pieces shared by the Rich renderers."""

from __future__ import annotations


def age(seconds: float | None) -> str:
    """``"3.2s"``, ``"4m 05s"``, ``"2h 01m"``, or ``"-"``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def size(n: float | None) -> str:
    """Bytes in IEC units: ``"12.3 MiB"``."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def signed(n: int | float | None) -> str:
    """``"+12"``, ``"-3"``, ``"0"``, or ``"-"`` when unknown."""
    if n is None:
        return "-"
    if isinstance(n, float):
        return f"{n:+,.1f}"
    return f"{n:+,d}" if n else "0"


SPARK = "▁▂▃▄▅▆▇█"


def plural(n: int, one: str, many: str | None = None) -> str:
    """``"1 process"``, ``"3 processes"``."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def duration(seconds: float) -> str:
    """``"45 s"``, ``"12 min"``, ``"1.5 h"``: a span in the unit that reads best."""
    if seconds < 100:
        return f"{seconds:.3g} s"
    if seconds < 6000:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:,.3g} h"


def sparkline(values: list[int] | list[float], width: int = 24) -> str:
    """A one-line chart of *values* (last *width* points)."""
    points = list(values)[-width:]
    if not points:
        return ""
    low, high = min(points), max(points)
    if high == low:
        return SPARK[0] * len(points)
    scale = (len(SPARK) - 1) / (high - low)
    return "".join(SPARK[int((v - low) * scale)] for v in points)
