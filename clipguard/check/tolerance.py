"""The tolerance of docs/design.md: when a difference from the reference is no difference.

Equivalent: max abs difference at most one 8-bit step in normalized units and mean abs at most
1e-3; exact: max abs at most 1e-6. The comparison, the hypothesis search and the diagnosis all
ask `within`.
"""

from __future__ import annotations

import math

EXACT_MAX_ABS = 1e-6
# One 8-bit step over CLIP's smallest std (~0.0150), plus 1e-6 because that same step computed in
# float32 comes out as 0.0150080, just over the exact 0.0150078.
EQUIVALENT_MAX_ABS = (1 / 255) / 0.26130258 + 1e-6
EQUIVALENT_MEAN_ABS = 1e-3


def within(max_abs: float, mean_abs: float) -> bool:
    """Whether a difference with this max and mean abs counts as no difference."""
    return bool(
        math.isfinite(max_abs)
        and math.isfinite(mean_abs)
        and max_abs <= EQUIVALENT_MAX_ABS
        and mean_abs <= EQUIVALENT_MEAN_ABS
    )


def residual_within(residual) -> bool:
    """`within` for an array of absolute differences."""
    return within(float(residual.max()), float(residual.mean()))
