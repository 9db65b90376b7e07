"""The validation gate: run the kind's expectation suite on a batch, return the verdict.

One :class:`BatchValidator` owns one file-backed GX context under a root folder and is
reused for every batch of a run (tens to hundreds of daily batches): the context, data
source, assets, suites and validation definitions are set up once in ``__init__``; each
:meth:`BatchValidator.validate` only runs the suite and stores its result (JSON under
``<root>/gx/uncommitted/validations``). :meth:`BatchValidator.build_docs` renders the
HTML Data Docs of the batches validated since the last build, once, after the run.

Verdicts of passing batches are remembered under the root (:data:`PASSED_FILE`): given
the batch's ``content_hash``, :meth:`BatchValidator.validate` returns the remembered
verdict (``reused=True``) when the same batch id passed before with the same bytes, the
same suite (:func:`suite_fingerprint`: its expectations, their code and the GX version)
and the same suite parameters (its day; for transactions, no customer unknown). Same
inputs, same verdict — without GX's ~1 s a batch; reruns of a stage over hundreds of
unchanged batches cost a hash each. Failed verdicts are not remembered: they are checked
again.

The gate decides; it does not act. It never moves, deletes or writes batch data: the
caller quarantines a failed batch and stops the stage, e.g. with
``raise SomeError(summary(outcome))``.

Not thread-safe: use one validator per thread (each with its own root).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlparse

import great_expectations as gx
import pandas as pd
from great_expectations.core.result_format import ResultFormat
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.core.validation_definition import ValidationDefinition
from great_expectations.data_context import FileDataContext
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.datasource.fluent import PandasDatasource
from great_expectations.datasource.fluent.pandas_datasource import DataFrameAsset

from fraudlake.atomic_write import write_text_atomic
from fraudlake.params import Params, SimulateParams
from fraudlake.validation import expectations as custom_expectations
from fraudlake.validation.describe import failed_expectations
from fraudlake.validation.outcome import FailedExpectation, ValidationOutcome
from fraudlake.validation.rules import ValidationRules
from fraudlake.validation.suites import (
    VALIDATED_SCHEMAS,
    build_suite,
    suite_name,
    suite_parameters,
)

logger = logging.getLogger(__name__)

#: Names of the GX objects the validator creates in its context.
DATASOURCE_NAME = "fraudlake"
BATCH_DEFINITION_NAME = "whole_frame"
DOCS_SITE_NAME = "local_site"
#: The remembered verdicts of passing batches, under ``<root>/gx/uncommitted``: JSON
#: lines, one record per verdict given, the last of a batch id counting.
PASSED_FILE = "passed_batches.jsonl"

#: Batch ids: ``/``-separated segments of ``[A-Za-z0-9._=-]`` (e.g. ``transactions/2024-01-01``),
#: at most 200 characters. They become one folder name in the stores and the Data Docs,
#: with each ``/`` written as :data:`SEGMENT_SEPARATOR`.
BATCH_ID_PATTERN = re.compile(
    r"(?=.{1,200}$)[A-Za-z0-9][A-Za-z0-9._=-]*(/[A-Za-z0-9][A-Za-z0-9._=-]*)*"
)
SEGMENT_SEPARATOR = "__"


def run_name(batch_id: str) -> str:
    """The GX run name (a single folder name) of ``batch_id``: ``/`` becomes ``__``."""
    return batch_id.replace("/", SEGMENT_SEPARATOR)


def suite_fingerprint(kind: str, rules: ValidationRules) -> str:
    """SHA-256 of the kind's suite under ``rules`` (every expectation, its arguments and
    notes), of the code of fraudlake's own expectations and of the GX version that runs
    them: a remembered verdict holds only while all three stay the same."""
    suite = build_suite(kind, rules).to_json_dict()
    own_code = hashlib.sha256(Path(custom_expectations.__file__).read_bytes()).hexdigest()
    blob = json.dumps(
        {"gx": gx.__version__, "suite": suite, "own_expectations": own_code},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _canonical(parameters: dict[str, Any]) -> str:
    return json.dumps(parameters, sort_keys=True, default=str)


def docs_dir_of(root: Path) -> Path:
    """Folder of the HTML Data Docs site of a validator rooted at ``root``."""
    return Path(root).resolve() / "gx" / "uncommitted" / "data_docs" / DOCS_SITE_NAME


class BatchValidator:
    """Validates raw batches against the fraudlake expectation suites.

    ``root`` is the folder of the GX project (created if absent; ``<root>/gx`` holds the
    configuration, stored results and Data Docs). ``rules`` are the value limits; pass
    ``params`` or ``params.simulate`` to derive them from ``params.yaml`` (grid size,
    currency), ``None`` for the defaults. Re-opening an existing root is safe:
    suites and validation definitions are replaced by the ones ``rules`` define, stored
    results and other GX objects are kept.
    """

    def __init__(
        self, root: Path | str, rules: ValidationRules | Params | SimulateParams | None = None
    ) -> None:
        self.root = Path(root).resolve()
        if rules is None:
            rules = ValidationRules()
        elif not isinstance(rules, ValidationRules):
            rules = ValidationRules.from_params(rules)
        self.rules: ValidationRules = rules
        self.root.mkdir(parents=True, exist_ok=True)
        context = gx.get_context(mode="file", project_root_dir=self.root)
        assert isinstance(context, FileDataContext)
        self._context: FileDataContext = context
        self._configure_context()
        self._definitions: dict[str, ValidationDefinition] = {
            kind: self._register(kind) for kind in VALIDATED_SCHEMAS
        }
        self._pending_docs: list[ValidationResultIdentifier] = []
        self._fingerprints = {kind: suite_fingerprint(kind, rules) for kind in VALIDATED_SCHEMAS}
        self._passed: dict[str, dict[str, Any]] = self._load_passed()

    @property
    def passed_file(self) -> Path:
        """Where the verdicts of passing batches are remembered (JSON lines)."""
        return self.root / "gx" / "uncommitted" / PASSED_FILE

    @property
    def docs_dir(self) -> Path:
        """Folder of the HTML Data Docs site."""
        return docs_dir_of(self.root)

    @property
    def docs_index(self) -> Path:
        """The Data Docs ``index.html`` (exists after the first :meth:`build_docs`)."""
        return self.docs_dir / "index.html"

    def validate(
        self,
        kind: str,
        frame: pd.DataFrame,
        batch_id: str,
        day: dt.date | None = None,
        known_customer_ids: Collection[int] | None = None,
        content_hash: str | None = None,
    ) -> ValidationOutcome:
        """Validate one batch of ``kind`` and return the outcome; never mutates ``frame``.

        ``content_hash`` identifies the bytes ``frame`` was read from (e.g. the SHA-256 of
        its file). With it, a passing verdict is remembered, and an earlier passing verdict
        on the same batch id, bytes, suite and suite parameters is returned instead of
        running GX (``reused=True``). Without it GX always runs.

        ``day`` is required for kinds with a day column (transactions, labels,
        fraud_intel) and must be ``None`` for customers; ``known_customer_ids`` is required
        for transactions and must be ``None`` otherwise. ``batch_id`` names the batch in
        the outcome, the stored result and the Data Docs (see :data:`BATCH_ID_PATTERN`).

        Bad *data* (missing or extra columns, wrong types, nulls, out-of-range values...)
        gives a failed outcome, never an exception. Misuse (unknown kind, bad batch id,
        missing or superfluous ``day``/``known_customer_ids``) raises ``ValueError``.
        """
        if not BATCH_ID_PATTERN.fullmatch(batch_id):
            raise ValueError(
                f"batch_id {batch_id!r} must be '/'-separated segments of letters, digits "
                "and ._=- (each starting with a letter or digit), at most 200 characters"
            )
        params = suite_parameters(kind, frame, day, known_customer_ids)
        if content_hash is not None:
            remembered = self._remembered(kind, batch_id, content_hash, params)
            if remembered is not None:
                logger.debug("validated %s batch %s: passed before, verdict reused", kind, batch_id)
                return remembered
        definition = self._definitions[kind]
        missing = [c for c in VALIDATED_SCHEMAS[kind].names if c not in frame.columns]

        run_id = RunIdentifier(run_name=run_name(batch_id), run_time=dt.datetime.now(dt.UTC))
        result = definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=params,
            result_format=ResultFormat.SUMMARY,
            run_id=run_id,
        )
        identifier = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
            run_id=run_id,
            batch_identifier=result.batch_id,
        )
        self._pending_docs.append(identifier)

        failed = failed_expectations(result, missing)
        if not result.success and not failed:  # defensive: GX failed without a named cause
            failed = (
                FailedExpectation(
                    expectation_type="suite",
                    description=f"{kind}: validation failed (see Data Docs)",
                ),
            )
        outcome = ValidationOutcome(
            kind=kind,
            batch_id=batch_id,
            day=day,
            success=not failed,
            rows=len(frame),
            evaluated=len(result.results),
            failed=failed,
            docs_page=self._docs_page(identifier),
        )
        if outcome.success and content_hash is not None:
            self._remember(outcome, content_hash, params)
        # passing batches at DEBUG: a run validates hundreds; failures are what people read
        logger.log(
            logging.DEBUG if outcome.success else logging.WARNING,
            "validated %s batch %s: %s (%d rows, %d failed expectations)",
            kind,
            batch_id,
            "passed" if outcome.success else "FAILED",
            outcome.rows,
            len(failed),
        )
        return outcome

    def build_docs(self) -> Path:
        """Render Data Docs for the batches validated since the last build; return index.html.

        Incremental: renders the suite pages and the pages of this validator's new
        results, then rebuilds the index over every result stored under the root.
        """
        identifiers: list[ExpectationSuiteIdentifier | ValidationResultIdentifier] = [
            ExpectationSuiteIdentifier(name=suite_name(kind)) for kind in VALIDATED_SCHEMAS
        ]
        identifiers.extend(self._pending_docs)
        self._context.build_data_docs(
            site_names=[DOCS_SITE_NAME],
            resource_identifiers=identifiers,  # type: ignore[arg-type]
        )
        self._pending_docs.clear()
        return self.docs_index

    def _remembered(
        self, kind: str, batch_id: str, content_hash: str, params: dict[str, Any]
    ) -> ValidationOutcome | None:
        record = self._passed.get(batch_id)
        if not isinstance(record, dict) or record.get("kind") != kind:
            return None
        if (record.get("content_hash"), record.get("suite"), record.get("parameters")) != (
            content_hash,
            self._fingerprints[kind],
            _canonical(params),
        ):
            return None
        try:
            outcome = ValidationOutcome.model_validate(
                {**record["outcome"], "docs_page": self.docs_dir / record["docs_page"]}
            )
        except (KeyError, TypeError, ValueError):  # written by another version: validate again
            return None
        return outcome.model_copy(update={"reused": True})

    def _remember(
        self, outcome: ValidationOutcome, content_hash: str, params: dict[str, Any]
    ) -> None:
        record = {
            "batch_id": outcome.batch_id,
            "kind": outcome.kind,
            "content_hash": content_hash,
            "suite": self._fingerprints[outcome.kind],
            "parameters": _canonical(params),
            "outcome": outcome.model_dump(mode="json", exclude={"docs_page"}),
            # relative: the root may be copied or moved (CI caches, test templates)
            "docs_page": outcome.docs_page.relative_to(self.docs_dir).as_posix(),
        }
        self._passed[outcome.batch_id] = record
        # One appended line per verdict (a first run over a year of batches writes each
        # once). A crash can only cut the last line, which loading skips; the lines of two
        # runs at once (the DAG and a `dvc repro`) do not interleave: one O_APPEND write each.
        line = json.dumps(record, sort_keys=True).encode() + b"\n"
        self.passed_file.parent.mkdir(parents=True, exist_ok=True)
        self._append(line)

    def _append(self, data: bytes) -> None:
        """Append ``data`` to the verdict file in one O_APPEND write."""
        fd = os.open(self.passed_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def _load_passed(self) -> dict[str, dict[str, Any]]:
        """The remembered verdicts by batch id (the last line of a batch id wins); lines
        that are not records (a cut last line, a hand edit) are skipped. A file mostly of
        superseded lines is rewritten with the current ones first; a cut last line is
        ended, so the next verdict starts a line of its own."""
        try:
            text = self.passed_file.read_bytes()
        except OSError:
            return {}
        lines = text.splitlines()
        passed: dict[str, dict[str, Any]] = {}
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("batch_id"), str):
                passed[record["batch_id"]] = record
        if len(lines) > 2 * len(passed):
            self._compact(passed)
        elif text and not text.endswith(b"\n"):
            self._append(b"\n")
        return passed

    def _compact(self, passed: dict[str, dict[str, Any]]) -> None:
        """Rewrite the verdict file with one line per batch id, atomically (a crash keeps
        the old file; a verdict another run appends meanwhile may be lost, which only
        means validating that batch again)."""
        lines = (json.dumps(record, sort_keys=True) + "\n" for record in passed.values())
        write_text_atomic(self.passed_file, "".join(lines))

    def _configure_context(self) -> None:
        """Quiet, local context: no progress bars, no analytics, no tutorial buttons."""
        variables = self._context.variables
        variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        self._context.config.analytics_enabled = False
        site = self._context.list_data_docs_sites().get(DOCS_SITE_NAME)
        if site is not None and dict(site).get("show_how_to_buttons", True):
            # A SiteBuilder option GX's TypedDict does not list: hides the tutorial links.
            quiet: dict[str, Any] = {**site, "show_how_to_buttons": False}
            self._context.update_data_docs_site(DOCS_SITE_NAME, cast(Any, quiet))
        variables.save()

    def _datasource(self) -> PandasDatasource:
        try:
            datasource = self._context.data_sources.get(DATASOURCE_NAME)
        except (KeyError, LookupError, ValueError):
            return self._context.data_sources.add_pandas(DATASOURCE_NAME)
        assert isinstance(datasource, PandasDatasource)
        return datasource

    def _register(self, kind: str) -> ValidationDefinition:
        """Fetch-or-create the kind's asset and batch definition; (re)write its suite."""
        datasource = self._datasource()
        try:
            asset = datasource.get_asset(kind)
        except LookupError:
            asset = datasource.add_dataframe_asset(kind)
        assert isinstance(asset, DataFrameAsset)
        try:
            batch_definition = asset.get_batch_definition(BATCH_DEFINITION_NAME)
        except (KeyError, LookupError):
            batch_definition = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION_NAME)
        suite = self._context.suites.add_or_update(build_suite(kind, self.rules))
        return self._context.validation_definitions.add_or_update(
            ValidationDefinition(name=suite_name(kind), data=batch_definition, suite=suite)
        )

    def _docs_page(self, identifier: ValidationResultIdentifier) -> Path:
        """Where ``build_docs`` writes the page of ``identifier``."""
        urls = self._context.get_docs_sites_urls(
            resource_identifier=identifier, site_name=DOCS_SITE_NAME, only_if_exists=False
        )
        url = urls[0]["site_url"] if urls else None
        if not url or not url.startswith("file://"):
            raise RuntimeError(f"Data Docs site {DOCS_SITE_NAME!r} is not a local folder: {url}")
        return Path(unquote(urlparse(url).path))
