"""The compiled backend: programs translated to Python source and compiled
with numba, checked episode for episode against the reference interpreter."""
