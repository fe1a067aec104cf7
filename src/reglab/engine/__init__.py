"""The engine: train many members at once, each with its own strategy, split and seed (DESIGN §2).

``train_members(members, data)`` is the entry point; :class:`MemberSpec` says what a member
is and :class:`MemberResult` what comes back. ``check_memory(members, data, budget)`` checks a
plan's memory before anything is trained.
"""

from reglab.engine.plan import MemoryEstimate, check_memory
from reglab.engine.result import MemberResult
from reglab.engine.spec import Architecture, MemberSpec, Strategy, TrainConfig
from reglab.engine.streams import stream_seeds
from reglab.engine.train import initial_weights, train_members

__all__ = [
    "Architecture",
    "MemberResult",
    "MemberSpec",
    "MemoryEstimate",
    "Strategy",
    "TrainConfig",
    "check_memory",
    "initial_weights",
    "stream_seeds",
    "train_members",
]
