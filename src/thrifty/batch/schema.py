"""The batch queue's SQLite schema and the statements its transitions run
(:mod:`thrifty.batch.queue`)."""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    tenant TEXT,
    task TEXT,
    state TEXT NOT NULL,            -- open | cancelled | done
    notified INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    seq INTEGER NOT NULL,           -- input order in the submission
    custom_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    dialect TEXT NOT NULL,
    model TEXT NOT NULL,
    body BLOB NOT NULL,
    size INTEGER NOT NULL,
    dedupe_key TEXT NOT NULL,
    leader INTEGER,                 -- an identical earlier item answers this one
    state TEXT NOT NULL,
    source TEXT,                    -- batch | cache | duplicate, once succeeded
    job_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    result_status INTEGER,
    result BLOB,
    error TEXT,
    booked INTEGER NOT NULL DEFAULT 0,
    UNIQUE (submission_id, custom_id)
);
CREATE INDEX IF NOT EXISTS items_state ON items (state, provider, model, id);
CREATE INDEX IF NOT EXISTS items_job ON items (job_id);
CREATE INDEX IF NOT EXISTS items_leader ON items (leader);
CREATE INDEX IF NOT EXISTS items_submission ON items (submission_id, seq);
CREATE INDEX IF NOT EXISTS items_dedupe ON items (submission_id, dedupe_key);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    dialect TEXT NOT NULL,
    model TEXT NOT NULL,
    requests INTEGER NOT NULL,
    state TEXT NOT NULL,
    input_file_id TEXT,
    remote_id TEXT,
    remote_status TEXT,
    output_refs TEXT,               -- JSON: where the provider put the results
    creating_at REAL,
    updated_at REAL NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
"""

FINAL = ("succeeded", "failed", "cancelled", "expired")
INSERT_ITEM = (
    "INSERT INTO items (submission_id, seq, custom_id, provider, dialect, model, body, size,"
    " dedupe_key, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued')"
)
SET_LEADERS = (  # each item follows the first identical item of its submission
    "UPDATE items SET leader = (SELECT MIN(j.id) FROM items j"
    " WHERE j.submission_id = items.submission_id AND j.dedupe_key = items.dedupe_key)"
    " WHERE submission_id = ?1 AND id != (SELECT MIN(j.id) FROM items j"
    " WHERE j.submission_id = items.submission_id AND j.dedupe_key = items.dedupe_key)"
)
REQUEUE = (
    "UPDATE items SET state = 'queued', job_id = NULL, error = ? WHERE id = ? AND state = 'sent'"
)
FINISH = (
    "UPDATE items SET state = ?, result_status = ?, result = ?, error = ?, source = ?"
    " WHERE id = ? AND state NOT IN ('succeeded', 'failed', 'cancelled', 'expired')"
)
FOLLOW = (  # the items an identical one answers take its outcome
    "UPDATE items SET state = ?, result_status = ?, result = ?, error = ?, source = ?"
    " WHERE leader = ? AND state = 'queued'"
)
