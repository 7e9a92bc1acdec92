"""The merchant console: admin pages, dashboard, charts and live stream over every app.

The top of the layer order (README, "Layers"): it may import any app and the pipeline;
nothing imports it. ``console.admin`` is the console's admin module (autodiscovered).
"""
