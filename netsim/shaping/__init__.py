"""Network conditions in user space: link conditions, the per-link shaper, and fault schedules."""
