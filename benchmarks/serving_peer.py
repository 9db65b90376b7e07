"""The benchmark's peer: the same scoring app under plain uvicorn (1 worker, no Ray, no
batching: each request scored alone). Settings from the environment, as a replica's.

    python -m benchmarks.serving_peer <port> '<ServingOptions JSON>'
"""

from __future__ import annotations

import sys

import uvicorn

from fraudlake.serving.api import create_app
from fraudlake.serving.options import ServingOptions
from fraudlake.serving.service import ScoringService
from fraudlake.serving.settings import ServingSettings


def main(port: int, options_json: str) -> None:
    options = ServingOptions.model_validate_json(options_json)
    service = ScoringService.from_settings(ServingSettings(), options)
    app = create_app(service)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
