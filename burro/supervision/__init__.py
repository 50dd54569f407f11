"""Supervision trees for Pykka actors, with the semantics of Erlang/OTP's ``supervisor``.

A :class:`Supervisor` starts its children (:class:`ChildSpec`) in order, notices every
exit of a :class:`SupervisedActor` child the moment its thread ends, restarts children
by strategy (``one_for_one``, ``one_for_all``, ``rest_for_one``) and restart type
(``permanent``, ``transient``, ``temporary``), and escalates to its own supervisor
when restarts exceed its intensity.
"""

from __future__ import annotations

from burro.supervision._spec import ChildSpec, RestartEvent, RestartType, Strategy
from burro.supervision._supervised import SupervisedActor, inject_failure
from burro.supervision._supervisor import Supervisor

__all__ = [
    "ChildSpec",
    "RestartEvent",
    "RestartType",
    "Strategy",
    "SupervisedActor",
    "Supervisor",
    "inject_failure",
]
