"""Scoring a transaction: decision thresholds and per-feature reasons from the model
itself. Engine-free; the Ray Serve adapter in ``ray_serve/`` wires it to HTTP."""
