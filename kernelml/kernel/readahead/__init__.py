"""Readahead: the page cache's on-demand readahead (mm/readahead.c) with the
ML proxy choosing each file's readahead limit (see kernelml/uapi/readahead.py)."""
