"""What learning changed: the report (funnel, time to apply, work before and after,
rewards, modules) and the performance-review export."""
