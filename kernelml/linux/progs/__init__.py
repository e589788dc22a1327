"""Programs run as separate processes by the capture workloads."""
