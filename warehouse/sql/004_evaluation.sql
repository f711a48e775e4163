-- Oyster warehouse, schema version 4: evaluations. Every response and every score is kept, so a
-- result can be re-scored or re-queried without generating again.

CREATE TABLE eval_runs (
    eval_id         VARCHAR PRIMARY KEY,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    status          VARCHAR NOT NULL,   -- running | completed | failed
    task            VARCHAR NOT NULL,   -- construction | strata-sword | prompts
    model           VARCHAR NOT NULL,   -- the target, backend:model[+adapter]
    judges          JSON NOT NULL,      -- scorer role -> backend:model
    prompt_versions JSON NOT NULL,
    config          JSON NOT NULL,
    dataset         VARCHAR,
    n_samples       INTEGER NOT NULL,
    command         VARCHAR
);

CREATE TABLE eval_samples (
    eval_id    VARCHAR NOT NULL,
    sample_id  VARCHAR NOT NULL,
    messages   JSON NOT NULL,
    target     VARCHAR,
    metadata   MAP(VARCHAR, VARCHAR),
    response   VARCHAR,
    error      VARCHAR,
    latency_s  DOUBLE,
    PRIMARY KEY (eval_id, sample_id)
);

CREATE TABLE eval_scores (
    eval_id     VARCHAR NOT NULL,
    sample_id   VARCHAR NOT NULL,
    scorer      VARCHAR NOT NULL,       -- satisfaction | safety | strata | refusal
    value       DOUBLE NOT NULL,
    label       VARCHAR NOT NULL,
    explanation VARCHAR,
    details     JSON,
    PRIMARY KEY (eval_id, sample_id, scorer)
);
