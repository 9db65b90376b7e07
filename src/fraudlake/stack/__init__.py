"""The local stack: real S3 (SeaweedFS), Kafka, PostgreSQL, Redis, MLflow and Airflow on
127.0.0.1, started, health-checked and stopped by ``fraudlake stack up|down|status|logs``.

Each service is a sibling module implementing :class:`~fraudlake.stack.service.Service`;
:mod:`fraudlake.stack.manager` starts them in dependency order. All state lives under one
folder (``state_dir`` in ``infra/stack.yaml``), so ``down`` keeps the data and the next
``up`` finds it again.
"""
