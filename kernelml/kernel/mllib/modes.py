"""The four modes and the controller that moves between them.

The controller is pure logic: the proxy hands it the health of the channel
and the efficiency verdict; it answers with at most one transition.  Every
transition carries one :class:`Reason`, and the tests check that each fires
for its stated reason and no other.

    emergency --(all triggers clear for recover_hold ticks)--> learning
    learning --(mature and not worse)--> collaboration
    collaboration --(better with confidence)--> recommendation
    collaboration --(worse with confidence)--> learning
    recommendation --(no longer better)--> collaboration
    recommendation --(worse with confidence)--> learning
    any --(critical | agent silent | invalid share | outbox overflow)--> emergency
    emergency --(its trigger clears while another holds)--> emergency, new reason

Hysteresis: promotion to recommendation needs ML *better with confidence*;
leaving it needs ML's mean to be *no longer below* human's (a gap between the
two thresholds), and no efficiency-driven transition happens before
``min_dwell`` decisions in the current mode.

Probation: when ML is worse with confidence while already in learning, the
learning share is halved (1/8 -> 1/16 -> ... down to 1/(8 * max_backoff)),
logged as a learning -> learning transition with reason WORSE, so a model
that stays bad costs less and less; the share returns to normal on promotion
and on recovery from emergency (a restarted agent starts afresh).

An operator pin holds a mode against efficiency-driven transitions.  Safety
triggers still force emergency (the subsystem's health comes first); when
they clear, the pinned mode is restored.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ...uapi.messages import Mode, Reason, Transition
from .efficiency import Verdict

# share of operations ML decides in each mode: (numerator, denominator)
DEFAULT_SHARES = {
    Mode.EMERGENCY: (0, 1),
    Mode.LEARNING: (1, 8),
    Mode.COLLABORATION: (1, 2),
    Mode.RECOMMENDATION: (31, 32),
}


@dataclass(frozen=True)
class Health:
    """Emergency triggers, as the proxy measured them at one instant."""

    critical: bool = False
    agent_silent: bool = False
    invalid_share: bool = False
    outbox_overflow: bool = False

    def trigger(self) -> Reason | None:
        if self.critical:
            return Reason.CRITICAL
        if self.agent_silent:
            return Reason.AGENT_SILENT
        if self.invalid_share:
            return Reason.INVALID_SHARE
        if self.outbox_overflow:
            return Reason.OUTBOX_OVERFLOW
        return None


@dataclass
class ModeConfig:
    shares: dict | None = None  # Mode -> (num, den); None: DEFAULT_SHARES
    min_dwell: int = 64  # decisions in a mode before an efficiency-driven transition
    recover_hold: int = 0  # clock ticks all triggers must stay clear before leaving emergency
    log_size: int = 64  # transitions kept for inspection and feedback
    max_backoff: int = 32  # learning share divided by at most this on repeated WORSE

    def share(self, mode: Mode) -> tuple[int, int]:
        return (self.shares or DEFAULT_SHARES)[mode]


class ModeController:
    def __init__(self, config: ModeConfig | None = None, start: Mode = Mode.EMERGENCY, now: int = 0) -> None:
        self.config = config or ModeConfig()
        for mode in Mode:
            num, den = self.config.share(mode)
            if den <= 0 or not 0 <= num <= den:
                raise ValueError(f"share of {mode.name} must be num/den with 0 <= num <= den, den > 0")
        self.mode = start
        self.backoff = 1
        self.pinned: Mode | None = None
        self.decisions_in_mode = 0
        self.clear_since: int | None = None
        self.log: deque[Transition] = deque(maxlen=self.config.log_size)
        self.n_transitions = 0
        self.log.append(Transition(now, int(start), int(start), int(Reason.START)))
        self.n_transitions += 1

    def share(self) -> tuple[int, int]:
        num, den = self.config.share(self.mode)
        if self.mode == Mode.LEARNING:
            den *= self.backoff
        return num, den

    def _go(self, now: int, dst: Mode, reason: Reason) -> Transition:
        if reason in (Reason.MATURE, Reason.RECOVERED, Reason.PINNED):
            self.backoff = 1
        tr = Transition(now, int(self.mode), int(dst), int(reason))
        self.mode = dst
        self.decisions_in_mode = 0
        self.log.append(tr)
        self.n_transitions += 1
        return tr

    def pin(self, now: int, mode: Mode) -> Transition:
        self.pinned = Mode(mode)
        return self._go(now, self.pinned, Reason.PINNED)

    def unpin(self, now: int) -> Transition:
        self.pinned = None
        return self._go(now, self.mode, Reason.UNPINNED)

    def _held_by(self, health: Health) -> bool | None:
        """Whether the trigger that put us in emergency still holds (then the reason stays);
        None when emergency came from elsewhere (start, an operator pin)."""
        held = {int(Reason.CRITICAL): health.critical, int(Reason.AGENT_SILENT): health.agent_silent,
                int(Reason.INVALID_SHARE): health.invalid_share,
                int(Reason.OUTBOX_OVERFLOW): health.outbox_overflow}
        return held.get(self.log[-1].reason) if self.log else None

    def update(self, now: int, health: Health, verdict: Verdict) -> Transition | None:
        trigger = health.trigger()
        if trigger is not None:
            self.clear_since = None
            if self.mode != Mode.EMERGENCY or self._held_by(health) is False:
                return self._go(now, Mode.EMERGENCY, trigger)
            return None
        if self.mode == Mode.EMERGENCY:
            if self.pinned == Mode.EMERGENCY:
                return None
            if self.clear_since is None:
                self.clear_since = now
            if now - self.clear_since >= self.config.recover_hold:
                return self._go(now, self.pinned if self.pinned is not None else Mode.LEARNING,
                                Reason.RECOVERED)
            return None
        if self.pinned is not None or self.decisions_in_mode < self.config.min_dwell:
            return None
        if not verdict.mature:
            return None
        if self.mode == Mode.LEARNING:
            if verdict.not_worse:
                return self._go(now, Mode.COLLABORATION, Reason.MATURE)
            if verdict.worse and self.backoff < self.config.max_backoff:
                self.backoff *= 2
                return self._go(now, Mode.LEARNING, Reason.WORSE)
        elif self.mode == Mode.COLLABORATION:
            if verdict.better:
                return self._go(now, Mode.RECOMMENDATION, Reason.BETTER)
            if verdict.worse:
                return self._go(now, Mode.LEARNING, Reason.WORSE)
        elif self.mode == Mode.RECOMMENDATION:
            if verdict.worse:
                return self._go(now, Mode.LEARNING, Reason.WORSE)
            if verdict.no_longer_better:
                return self._go(now, Mode.COLLABORATION, Reason.NOT_BETTER)
        return None
