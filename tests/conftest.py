"""Shared pytest setup: hypothesis profiles, chosen by KMAPSIM_HYPOTHESIS_PROFILE.

"ci" (the default) keeps the property tests quick enough for every run; "slow" is for a
deliberate hunt (``KMAPSIM_HYPOTHESIS_PROFILE=slow pytest``). Deadlines are off in both, since
one example may enter the engine and its time varies with the machine's load.
"""

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=50, deadline=None)
settings.register_profile("slow", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("KMAPSIM_HYPOTHESIS_PROFILE", "ci"))
