-- Oyster warehouse, schema version 5: every start or resume of a run is an attempt with its own
-- settings; `runs` holds the latest attempt's. A failure records its attempt and is marked superseded
-- when a later attempt completes its scenario (kept, not deleted: it is still what that attempt did).

CREATE TABLE run_attempts (
    run_id          VARCHAR NOT NULL,
    attempt         INTEGER NOT NULL,   -- 1 for the first start, then one more per resume
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    status          VARCHAR NOT NULL,   -- running | completed | interrupted
    config          JSON NOT NULL,
    models          JSON NOT NULL,
    prompt_versions JSON NOT NULL,
    git_revision    VARCHAR,
    oyster_version  VARCHAR NOT NULL,
    command         VARCHAR,
    PRIMARY KEY (run_id, attempt)
);

ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE failures ADD COLUMN attempt INTEGER;
ALTER TABLE failures ADD COLUMN superseded_by_attempt INTEGER;

-- Runs written before this version count as one attempt each.
INSERT INTO run_attempts BY NAME
SELECT run_id, 1 AS attempt, started_at, finished_at, status, config, models, prompt_versions,
       git_revision, oyster_version, command
FROM runs;
UPDATE failures SET attempt = 1;
