"""Readahead-limit policies, one per file, registered by name.  Each is
integer-only and decides, once per epoch, the readahead limit of every file
from the per-file counters the page cache kept during the epoch."""

from ....registry import Registry

POLICIES = Registry("readahead policy", {
    "default": "kernelml.kernel.readahead.policies.default:KernelDefault",
    "fixed-small": "kernelml.kernel.readahead.policies.fixed:FixedSmall",
    "fixed-large": "kernelml.kernel.readahead.policies.fixed:FixedLarge",
    "kml": "kernelml.kernel.readahead.policies.kml:KmlLike",
})
