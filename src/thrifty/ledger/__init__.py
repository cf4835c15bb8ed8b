"""The ledger: one SQLite row per request (errors and cache hits too), the reader behind
``thrifty report`` (:class:`SqliteLedgerReader`, a ``thrifty.store.LedgerReader``) and the
report itself.

``stage`` (the pipeline stage that writes rows) is imported from
``thrifty.ledger.stage`` explicitly; it is not re-exported here.
"""

from thrifty.ledger.money import pico_to_usd, usd_to_pico
from thrifty.ledger.query import SqliteLedgerReader
from thrifty.ledger.read_rows import read_rows
from thrifty.ledger.render import render_report
from thrifty.ledger.report import Report, ReportLine, build_report, report_to_json
from thrifty.ledger.row import LedgerRow
from thrifty.ledger.store import LedgerStore, LedgerWriteError

__all__ = [
    "LedgerRow",
    "LedgerStore",
    "LedgerWriteError",
    "Report",
    "ReportLine",
    "SqliteLedgerReader",
    "build_report",
    "pico_to_usd",
    "read_rows",
    "render_report",
    "report_to_json",
    "usd_to_pico",
]
