"""The shared conformance suite: every registered learner, on the sample
session of its subsystem (what the kernel side really publishes)."""

import copy
import pickle

import numpy as np
import pytest

from kernelml.agent.learner import Advice, Learner
from kernelml.agent.learners import LEARNERS
from kernelml.bench.samples import SESSIONS
from kernelml.uapi import messages as m


def session_for(learner):
    return SESSIONS.get(learner.subsystem)(seed=1)


def feed(learner, msgs):
    for msg in msgs:
        if isinstance(msg, m.Hello):
            learner.hello(msg)
        elif isinstance(msg, m.Telemetry):
            learner.learn_many(msg.record_kind, msg.records)
        elif isinstance(msg, m.Feedback):
            learner.on_feedback(msg)


def advice_key(advice):
    return [(a.op_kind, a.ttl, a.model_id, np.asarray(a.words).tolist()) for a in advice]


def hello_of(msgs):
    return next(x for x in msgs if isinstance(x, m.Hello))


NAMES = LEARNERS.names()


@pytest.mark.parametrize("name", NAMES)
def test_is_a_learner_with_a_session(name):
    learner = LEARNERS.make(name, seed=0)
    assert isinstance(learner, Learner)
    assert learner.subsystem in SESSIONS, f"no sample session for {learner.subsystem}"


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_under_seed(name):
    a, b = LEARNERS.make(name, seed=7), LEARNERS.make(name, seed=7)
    msgs = session_for(a)
    feed(a, msgs)
    feed(b, msgs)
    assert advice_key(a.recommend(5_000)) == advice_key(b.recommend(5_000))


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_round_trip(name):
    a = LEARNERS.make(name, seed=3)
    msgs = session_for(a)
    feed(a, msgs[: len(msgs) // 2])
    b = pickle.loads(pickle.dumps(a))
    c = copy.deepcopy(a)
    feed(a, msgs[len(msgs) // 2:])
    feed(b, msgs[len(msgs) // 2:])
    feed(c, msgs[len(msgs) // 2:])
    assert advice_key(a.recommend(9_000)) == advice_key(b.recommend(9_000)) == advice_key(c.recommend(9_000))


@pytest.mark.parametrize("name", NAMES)
def test_does_not_mutate_inputs(name):
    learner = LEARNERS.make(name, seed=0)
    msgs = session_for(learner)
    learner.hello(hello_of(msgs))
    for msg in msgs:
        if isinstance(msg, m.Telemetry):
            before = msg.records.copy()
            learner.learn_many(msg.record_kind, msg.records)
            assert np.array_equal(before, msg.records)
            if msg.records.shape[0]:
                row = msg.records[0].copy()
                learner.learn_one(msg.record_kind, msg.records[0])
                assert np.array_equal(row, msg.records[0])


@pytest.mark.parametrize("name", NAMES)
def test_empty_input_and_valid_advice(name):
    learner = LEARNERS.make(name, seed=0)
    msgs = session_for(learner)
    hello = hello_of(msgs)
    learner.hello(hello)
    tel = next(x for x in msgs if isinstance(x, m.Telemetry))
    learner.learn_many(tel.record_kind, tel.records[:0])
    advice = learner.recommend(0)
    feed(learner, msgs)
    advice += learner.recommend(10_000)
    for a in advice:
        assert isinstance(a, Advice)
        assert a.op_kind in hello.op_kinds and a.ttl > 0
        words = np.asarray(a.words)
        assert words.dtype.kind == "i" and words.ndim == 1
        m.encode(m.Recommendation(a.op_kind, 1, a.ttl, words))  # fits in one frame
