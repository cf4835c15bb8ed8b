"""Provider Batch APIs: deferrable work at the batch discount, crash-safe, on the ledger
(docs/batch.md).

* :class:`Batches` submits JSONL lines (OpenAI batch lines or Anthropic ``custom_id`` +
  ``params`` requests) to the durable queue and returns a :class:`BatchHandle`;
* the poller (:class:`~thrifty.batch.runner.BatchRunner`) groups items into provider jobs,
  follows them, collects and books every result line at batch rates;
* :func:`estimate` prices a file interactively and at batch rates before anything is sent.
"""

from thrifty.batch.estimate import Estimate, estimate
from thrifty.batch.lines import BadLine, BatchItem, ParsedInput, parse_lines
from thrifty.batch.service import Batches, BatchHandle, Status, Submitted, queue_path, result_line

__all__ = [
    "BadLine",
    "BatchHandle",
    "BatchItem",
    "Batches",
    "Estimate",
    "ParsedInput",
    "Status",
    "Submitted",
    "estimate",
    "parse_lines",
    "queue_path",
    "result_line",
]
