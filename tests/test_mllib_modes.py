"""Every mode transition fires for its stated reason and no other."""

import itertools

import pytest

from kernelml.kernel.mllib.efficiency import Verdict
from kernelml.kernel.mllib.modes import Health, ModeConfig, ModeController
from kernelml.uapi.messages import Mode, Reason

IMMATURE = Verdict(0, 0, 0, 0, False, False, False, False, False)


def verdict(better=False, worse=False, not_worse=False, no_longer_better=False):
    return Verdict(10, 10, 100, 100, True, better, worse, not_worse, no_longer_better)


NEUTRAL = verdict(not_worse=True)  # mature, ML neither better nor worse, still below human's mean
BETTER = verdict(better=True, not_worse=True)
WORSE = verdict(worse=True, no_longer_better=True)
NOT_BETTER = verdict(not_worse=True, no_longer_better=True)
HEALTHY = Health()


def ctl(mode, dwell=0, **kw):
    c = ModeController(ModeConfig(min_dwell=dwell, **kw), start=mode)
    return c


def last_reason(c):
    return Reason(c.log[-1].reason)


@pytest.mark.parametrize("field,reason", [("critical", Reason.CRITICAL), ("agent_silent", Reason.AGENT_SILENT),
                                          ("invalid_share", Reason.INVALID_SHARE),
                                          ("outbox_overflow", Reason.OUTBOX_OVERFLOW)])
@pytest.mark.parametrize("mode", [Mode.LEARNING, Mode.COLLABORATION, Mode.RECOMMENDATION])
def test_each_trigger_forces_emergency(mode, field, reason):
    c = ctl(mode)
    tr = c.update(5, Health(**{field: True}), BETTER)
    assert c.mode == Mode.EMERGENCY and Reason(tr.reason) == reason and tr.at == 5


def test_trigger_priority():
    c = ctl(Mode.RECOMMENDATION)
    c.update(1, Health(critical=True, agent_silent=True), BETTER)
    assert last_reason(c) == Reason.CRITICAL


def test_emergency_reason_follows_the_trigger_that_holds():
    c = ctl(Mode.RECOMMENDATION)
    c.update(1, Health(agent_silent=True, invalid_share=True), BETTER)
    assert last_reason(c) == Reason.AGENT_SILENT
    assert c.update(2, Health(agent_silent=True, invalid_share=True), BETTER) is None  # still held
    tr = c.update(3, Health(invalid_share=True), BETTER)  # the agent is back, its advice is not
    assert (tr.src, tr.dst, Reason(tr.reason)) == (Mode.EMERGENCY, Mode.EMERGENCY, Reason.INVALID_SHARE)
    assert c.update(4, Health(invalid_share=True, outbox_overflow=True), BETTER) is None
    started = ctl(Mode.EMERGENCY)  # emergency at start or by pin: a trigger does not relabel it
    assert started.update(1, Health(agent_silent=True), BETTER) is None


def test_emergency_recovers_to_learning_after_hold():
    c = ctl(Mode.EMERGENCY, recover_hold=10)
    assert c.update(0, Health(agent_silent=True), BETTER) is None
    assert c.update(5, HEALTHY, BETTER) is None  # clear since 5
    assert c.update(14, HEALTHY, BETTER) is None
    c.update(6, Health(agent_silent=True), BETTER)
    assert c.update(20, HEALTHY, BETTER) is None  # the hold restarted at 20
    tr = c.update(30, HEALTHY, BETTER)
    assert c.mode == Mode.LEARNING and Reason(tr.reason) == Reason.RECOVERED


def test_learning_to_collaboration_only_when_mature_and_not_worse():
    c = ctl(Mode.LEARNING)
    assert c.update(1, HEALTHY, IMMATURE) is None
    assert c.update(2, HEALTHY, verdict()) is None  # mature but not "not worse"
    tr = c.update(3, HEALTHY, NEUTRAL)
    assert c.mode == Mode.COLLABORATION and Reason(tr.reason) == Reason.MATURE


def test_collaboration_transitions():
    c = ctl(Mode.COLLABORATION)
    assert c.update(1, HEALTHY, NEUTRAL) is None
    assert c.update(1, HEALTHY, NOT_BETTER) is None  # not better is no reason to leave collaboration
    tr = c.update(2, HEALTHY, BETTER)
    assert c.mode == Mode.RECOMMENDATION and Reason(tr.reason) == Reason.BETTER
    c = ctl(Mode.COLLABORATION)
    tr = c.update(2, HEALTHY, WORSE)
    assert c.mode == Mode.LEARNING and Reason(tr.reason) == Reason.WORSE


def test_recommendation_transitions_with_hysteresis():
    c = ctl(Mode.RECOMMENDATION)
    assert c.update(1, HEALTHY, NEUTRAL) is None  # still below human's mean: stay
    assert c.update(1, HEALTHY, BETTER) is None
    tr = c.update(2, HEALTHY, NOT_BETTER)
    assert c.mode == Mode.COLLABORATION and Reason(tr.reason) == Reason.NOT_BETTER
    c = ctl(Mode.RECOMMENDATION)
    tr = c.update(2, HEALTHY, WORSE)
    assert c.mode == Mode.LEARNING and Reason(tr.reason) == Reason.WORSE


def test_dwell_blocks_efficiency_transitions_but_not_emergency():
    c = ctl(Mode.COLLABORATION, dwell=100)
    c.decisions_in_mode = 99
    assert c.update(1, HEALTHY, BETTER) is None
    c.decisions_in_mode = 100
    assert c.update(2, HEALTHY, BETTER) is not None
    c2 = ctl(Mode.COLLABORATION, dwell=100)
    assert c2.update(1, Health(critical=True), BETTER) is not None


def test_learning_backoff_on_repeated_worse():
    c = ctl(Mode.LEARNING, max_backoff=4)
    assert c.share() == (1, 8)
    tr = c.update(1, HEALTHY, WORSE)
    assert Reason(tr.reason) == Reason.WORSE and c.mode == Mode.LEARNING and c.share() == (1, 16)
    c.update(2, HEALTHY, WORSE)
    assert c.share() == (1, 32)
    assert c.update(3, HEALTHY, WORSE) is None  # floor reached
    c.update(4, HEALTHY, NEUTRAL)
    assert c.mode == Mode.COLLABORATION
    c.update(5, Health(critical=True), NEUTRAL)
    c.update(6, HEALTHY, NEUTRAL)
    assert c.mode == Mode.LEARNING and c.share() == (1, 8)


def test_pin_holds_against_efficiency_but_not_safety():
    c = ctl(Mode.LEARNING)
    tr = c.pin(1, Mode.RECOMMENDATION)
    assert Reason(tr.reason) == Reason.PINNED and c.mode == Mode.RECOMMENDATION
    assert c.update(2, HEALTHY, WORSE) is None
    c.update(3, Health(agent_silent=True), WORSE)
    assert c.mode == Mode.EMERGENCY
    tr = c.update(4, HEALTHY, WORSE)
    assert c.mode == Mode.RECOMMENDATION and Reason(tr.reason) == Reason.RECOVERED
    tr = c.unpin(5)
    assert Reason(tr.reason) == Reason.UNPINNED and c.mode == Mode.RECOMMENDATION
    c.update(6, HEALTHY, WORSE)
    assert c.mode == Mode.LEARNING


def test_pinned_emergency_stays():
    c = ctl(Mode.LEARNING)
    c.pin(1, Mode.EMERGENCY)
    assert c.update(2, HEALTHY, BETTER) is None and c.mode == Mode.EMERGENCY


def test_no_transition_without_cause_exhaustive():
    """From every mode, with healthy triggers, only the documented verdicts move it."""
    allowed = {
        (Mode.LEARNING, Reason.MATURE), (Mode.LEARNING, Reason.WORSE),
        (Mode.COLLABORATION, Reason.BETTER), (Mode.COLLABORATION, Reason.WORSE),
        (Mode.RECOMMENDATION, Reason.WORSE), (Mode.RECOMMENDATION, Reason.NOT_BETTER),
        (Mode.EMERGENCY, Reason.RECOVERED),
    }
    for mode, bits in itertools.product(list(Mode), itertools.product([False, True], repeat=4)):
        v = verdict(*bits)
        c = ctl(mode)
        tr = c.update(1, HEALTHY, v)
        if tr is not None:
            assert (mode, Reason(tr.reason)) in allowed
            r = Reason(tr.reason)
            assert (r != Reason.MATURE or v.not_worse)
            assert (r != Reason.BETTER or v.better)
            assert (r != Reason.WORSE or v.worse)
            assert (r != Reason.NOT_BETTER or v.no_longer_better)


def test_bad_share_config():
    with pytest.raises(ValueError):
        ModeController(ModeConfig(shares={m: (2, 1) for m in Mode}))
