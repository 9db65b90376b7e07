"""Streaming features: the window and label features of DESIGN.md computed over Kafka
streams, equal to the batch engine's. Engine-free logic; the PyFlink job in
``flink_jobs/`` and the single-process engine both run it. Importable in the PyFlink
environment: stdlib, numpy, pydantic and PyYAML only."""
