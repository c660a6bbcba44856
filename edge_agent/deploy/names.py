"""The deploy's slot and phase names: one definition for the agent, ``bearing-agent deploy`` and the facts.

A module of its own, with no imports, like :mod:`edge_agent.scoring.level_names`: the journal's
readers (``status``, the page, the publisher) describe the facts without importing the deploy code.
"""
from __future__ import annotations

#: the two bundle folders a deploy alternates between
SLOT_NAMES = ("a", "b")
#: phases of a deploy: loading (the agent verifies the slot), probation, then committed, rolled_back or rejected
LOADING, PROBATION, COMMITTED, ROLLED_BACK, REJECTED = "loading", "probation", "committed", "rolled_back", "rejected"
#: a rollback by hand after the commit: the previous bundle is being loaded
RESTORING = "restoring"
#: every phase, in the order a deploy goes through them
PHASES = (LOADING, PROBATION, COMMITTED, ROLLED_BACK, REJECTED, RESTORING)
#: a deploy under way: the agent is loading a bundle, or judging one on probation
UNDER_WAY = (LOADING, PROBATION, RESTORING)
#: the agent is loading a bundle for a deploy or a rollback by hand
LOADING_PHASES = (LOADING, RESTORING)
