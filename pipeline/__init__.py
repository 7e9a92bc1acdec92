"""The top layer's writes: what spans apps (see the README's layer order).

- ``processing``: a stored event is resolved to a person (identity), then its deliveries are
  scheduled (destinations); events runs the step through the processor registered here.
- ``apps``: fills the lower apps' hooks (event processor, erasure across apps).
- ``retention``: prunes every app's data on a schedule.

Only ``console`` and the root urls sit above it.
"""
