"""The auditor's view of the lake: history, explanations, lineage, erasure, and a journal
of every such action (``fraudlake audit``)."""
