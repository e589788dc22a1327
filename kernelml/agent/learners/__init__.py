"""The registry of learners: name -> "module:Class".  Every entry passes the
shared conformance suite (tests/test_agent_conformance.py)."""

from ...registry import Registry

LEARNERS = Registry("learner", {
    "toy-table": "kernelml.agent.learners.toy_table:ToyTable",
    "toy-random": "kernelml.agent.learners.toy_table:ToyRandom",
    "toy-inverted": "kernelml.agent.learners.toy_table:ToyInverted",
    "lfs-lifetime": "kernelml.agent.learners.lfs_lifetime:LifetimeTable",
    "lfs-random": "kernelml.agent.learners.lfs_lifetime:LifetimeRandom",
    "lfs-inverted": "kernelml.agent.learners.lfs_lifetime:LifetimeInverted",
    "damon-reuse": "kernelml.agent.learners.damon_reuse:DamonReuse",
    "damon-random": "kernelml.agent.learners.damon_reuse:DamonRandom",
    "damon-inverted": "kernelml.agent.learners.damon_reuse:DamonInverted",
    "readahead-window": "kernelml.agent.learners.readahead_window:ReadaheadWindow",
    "readahead-random": "kernelml.agent.learners.readahead_window:ReadaheadRandom",
    "readahead-inverted": "kernelml.agent.learners.readahead_window:ReadaheadInverted",
})
