"""For the whole suite: Hypothesis profiles, and a garbage collector that leaves what collection built alone.

Hypothesis profiles: few examples on a developer's machine, many in CI.

`quick` (the default) keeps the unit loop fast. `ci` is Hypothesis' own CI profile (derandomized, no deadline,
no example database) with at least as many examples as any test ran before there were profiles. Hypothesis
selects `ci` when the environment says it is CI (CI=true, GITHUB_ACTIONS=true, ...); HYPOTHESIS_PROFILE=<name>
or `pytest --hypothesis-profile=<name>` selects either anywhere. Tests set no example counts of their own, at
most a multiple of the profile's (`settings().max_examples`).
"""

from __future__ import annotations

import gc
import os

import pytest
from hypothesis import settings

settings.register_profile("quick", max_examples=10)
settings.register_profile("ci", settings.get_profile("ci"), max_examples=150)

settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if settings.get_current_profile_name() == "ci" else "quick")
)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what exists once the tests are collected (imported libraries, test functions, strategies): each full
    collection during the run, and pytest's own at exit, would otherwise walk all of it again."""
    gc.collect()
    gc.freeze()
