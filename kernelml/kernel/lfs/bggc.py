"""The F2FS background GC thread, replayed on a trace's timestamps.

Kernel source: ``fs/f2fs/gc.c`` ``gc_thread_func()`` and ``fs/f2fs/gc.h``
(``increase_sleep_time``, ``decrease_sleep_time``,
``has_enough_invalid_blocks``, ``limit_invalid_user_blocks``,
``limit_free_user_blocks``, ``free_user_blocks``); ``is_idle(sbi, GC_TIME)``
in ``fs/f2fs/f2fs.h``.

The thread sleeps ``wait_ms`` (starting at ``min_sleep_time``), then:

* if the device is not idle (a request arrived less than
  ``interval_time[GC_TIME]`` = ``DEF_IDLE_INTERVAL`` ago), lengthen the
  sleep (``increase_sleep_time``) and go back to sleep;
* otherwise shorten the sleep if ``has_enough_invalid_blocks`` (invalid
  user blocks above 40 % of user blocks and free user blocks below 40 % of
  them) or lengthen it, then run one background ``f2fs_gc`` pass (one
  victim; it becomes foreground GC if free segments are short); when no
  victim is found sleep ``no_gc_sleep_time``, and after a pass that found
  one, reset ``no_gc_sleep_time`` back to ``min_sleep_time``.

The simulator stops its write loop when the next operation's timestamp is
at or past the thread's next wake time; :meth:`BgThread.wake` then decides.
Departures: the device's in-flight requests are not modelled (idle = no
request for the interval); urgent GC modes and ``gc_merge`` are not
modelled.
"""

from __future__ import annotations

from .config import LIMIT_FREE_BLOCK, LIMIT_INVALID_BLOCK


def has_enough_invalid_blocks(n_lbas: int, live: int, free_segs: int, ovp_segs: int,
                              blocks_per_seg: int) -> bool:
    """fs/f2fs/gc.h: ``user_block_count`` = logical blocks,
    ``written_block_count`` = live blocks, ``overprovision_segments`` = the
    spare segments."""
    invalid_user_blocks = n_lbas - live
    limit_invalid = n_lbas * LIMIT_INVALID_BLOCK // 100
    free_user = (free_segs - ovp_segs) * blocks_per_seg if free_segs >= ovp_segs else 0
    limit_free = (n_lbas - live) * LIMIT_FREE_BLOCK // 100
    return invalid_user_blocks > limit_invalid and free_user < limit_free


class BgThread:
    """Sleep-time state of one F2FS GC thread (times in microseconds)."""

    def __init__(self, start_us: int, min_sleep: int, max_sleep: int, nogc_sleep: int,
                 idle_interval: int) -> None:
        self.min_sleep = min_sleep
        self.max_sleep = max_sleep
        self.nogc_sleep = nogc_sleep
        self.idle_interval = idle_interval
        self.wait = min_sleep
        self.next_wake = start_us + min_sleep
        self.wakes = 0
        self.busy_wakes = 0
        self.passes = 0
        self.no_victim = 0

    def increase(self) -> None:
        if self.wait == self.nogc_sleep:
            return
        self.wait = min(self.wait + self.min_sleep, self.max_sleep)

    def decrease(self) -> None:
        if self.wait == self.nogc_sleep:
            self.wait = self.max_sleep
        self.wait -= self.min_sleep
        if self.wait <= self.min_sleep:
            self.wait = self.min_sleep

    def wake(self, last_request_us: int, enough_invalid, run_pass) -> None:
        """One wake-up at ``self.next_wake``.  ``enough_invalid()`` ->
        bool and ``run_pass()`` -> bool (a victim was collected) are the
        simulator's callbacks."""
        now = self.next_wake
        self.wakes += 1
        if now - last_request_us < self.idle_interval:
            self.busy_wakes += 1
            self.increase()
        else:
            if enough_invalid():
                self.decrease()
            else:
                self.increase()
            self.passes += 1
            if run_pass():
                if self.wait == self.nogc_sleep:
                    self.wait = self.min_sleep
            else:
                self.no_victim += 1
                self.wait = self.nogc_sleep
        self.next_wake = now + self.wait

    def stats(self) -> dict:
        return {"wakes": self.wakes, "busy_wakes": self.busy_wakes, "passes": self.passes,
                "no_victim": self.no_victim}
