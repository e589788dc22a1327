"""DAMOS quota goals and the feedback tuner (mm/damon/core.c).

:func:`feed_loop_next_input` is damon_feed_loop_next_input: with the goal
fixed at a score of 10000,

    next = max(last * ((goal - score) / goal + 1), min_input)

in unsigned integer arithmetic, never below 10000, and straight to the
minimum when the score is at least twice the goal.  A score under the goal
(under-achieving) raises the input; over the goal lowers it.

:func:`quota_score` is damos_quota_score: every goal's current value is
refreshed (damos_set_quota_goal_current_value) and the *highest*
``current * 10000 / target`` wins, since it makes the scheme least
aggressive.  Metrics:

* USER_INPUT: ``current_value`` set by the user (or an agent);
* SOME_MEM_PSI_US: stall time since the previous refresh, in us (the
  kernel reads the system-wide PSI "some" memory total; here the memory
  model's stall time);
* NODE_MEM_USED_BP / NODE_MEM_FREE_BP: used or free machine memory in
  basis points of the total.

The values come from an *environment* object with ``psi_total_us()``,
``used_bp()`` and ``free_bp()`` (a :class:`~.memory.MemoryModel`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

ULONG_MAX = (1 << 64) - 1
GOAL_SCORE = 10000
MIN_INPUT = 10000


class GoalMetric(IntEnum):
    USER_INPUT = 0
    SOME_MEM_PSI_US = 1
    NODE_MEM_USED_BP = 2
    NODE_MEM_FREE_BP = 3


@dataclass
class QuotaGoal:
    metric: GoalMetric
    target_value: int
    current_value: int = 0
    last_psi_total: int = 0

    def __post_init__(self) -> None:
        if self.target_value <= 0:
            raise ValueError("a quota goal's target_value must be positive")


def feed_loop_next_input(last_input: int, score: int) -> int:
    """damon_feed_loop_next_input (unsigned long arithmetic)."""
    goal = GOAL_SCORE
    if score == goal:
        return last_input
    if score >= goal * 2:
        return MIN_INPUT
    over_achieving = score > goal
    diff = score - goal if over_achieving else goal - score
    if last_input < ULONG_MAX // diff:
        compensation = last_input * diff // goal
    else:
        compensation = last_input // goal * diff
    if over_achieving:
        return max(last_input - compensation, MIN_INPUT)
    if last_input < ULONG_MAX - compensation:
        return last_input + compensation
    return ULONG_MAX


def set_current_value(goal: QuotaGoal, env) -> None:
    """damos_set_quota_goal_current_value."""
    if goal.metric == GoalMetric.USER_INPUT:
        return
    if goal.metric == GoalMetric.SOME_MEM_PSI_US:
        now = int(env.psi_total_us())
        goal.current_value = now - goal.last_psi_total
        goal.last_psi_total = now
    elif goal.metric == GoalMetric.NODE_MEM_USED_BP:
        goal.current_value = int(env.used_bp())
    elif goal.metric == GoalMetric.NODE_MEM_FREE_BP:
        goal.current_value = int(env.free_bp())


def quota_score(goals: list[QuotaGoal], env) -> int:
    """damos_quota_score: the highest current/target ratio, in 1/10000."""
    highest = 0
    for g in goals:
        set_current_value(g, env)
        highest = max(highest, g.current_value * 10000 // g.target_value)
    return highest
