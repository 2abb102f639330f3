-- 0001_init: the initial schema.
--
-- Times are RFC 3339 text with nanoseconds and a `Z` suffix (fixed width), so text order is time
-- order and records round-trip exactly. Maps (metadata, envs) are JSON objects as text.
-- Tables are STRICT so a driver bug that binds the wrong type fails loudly instead of storing it.

CREATE TABLE sandboxes (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    template_id  TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    metadata     TEXT    NOT NULL DEFAULT '{}',
    envs         TEXT    NOT NULL DEFAULT '{}',
    cpu_count    INTEGER NOT NULL,
    memory_mb    INTEGER NOT NULL,
    disk_mb      INTEGER NOT NULL,
    timeout_secs INTEGER NOT NULL,
    created_at   TEXT    NOT NULL,
    started_at   TEXT,
    end_at       TEXT,
    ended_at     TEXT,
    error        TEXT,
    access_token TEXT    NOT NULL,
    pid          INTEGER
) STRICT;

-- A name is reserved only while its sandbox holds resources; dead ones keep it for history.
CREATE UNIQUE INDEX sandboxes_live_name ON sandboxes (name)
    WHERE state NOT IN ('killed', 'error');
-- Lookup by name must also find dead sandboxes (most recent first).
CREATE INDEX sandboxes_name ON sandboxes (name, created_at);
-- Keyset paging walks this index newest first.
CREATE INDEX sandboxes_created ON sandboxes (created_at, id);
CREATE INDEX sandboxes_state ON sandboxes (state);
CREATE INDEX sandboxes_template ON sandboxes (template_id);

CREATE TABLE sandbox_events (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    sandbox_id TEXT    NOT NULL REFERENCES sandboxes (id) ON DELETE CASCADE,
    at         TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    message    TEXT    NOT NULL
) STRICT;

CREATE INDEX sandbox_events_sandbox ON sandbox_events (sandbox_id, id);

CREATE TABLE api_keys (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    is_system  INTEGER NOT NULL,
    created_at TEXT    NOT NULL
) STRICT;

CREATE TABLE templates (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    status     TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    cpu_count  INTEGER NOT NULL,
    memory_mb  INTEGER NOT NULL,
    disk_mb    INTEGER NOT NULL,
    envs       TEXT    NOT NULL DEFAULT '{}',
    created_at TEXT    NOT NULL,
    error      TEXT
) STRICT;
