-- Oyster warehouse, schema version 3: fine-tuning runs read from the dpo / sft views.

CREATE TABLE train_runs (
    train_id     VARCHAR PRIMARY KEY,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    status       VARCHAR NOT NULL,      -- running | completed | failed
    method       VARCHAR NOT NULL,      -- dpo | orpo | sft
    base_model   VARCHAR NOT NULL,
    out_dir      VARCHAR NOT NULL,
    source_view  VARCHAR NOT NULL,
    where_sql    VARCHAR,
    n_train      INTEGER NOT NULL,
    n_eval       INTEGER NOT NULL,
    config       JSON NOT NULL,
    adapter_gguf VARCHAR,              -- servable by the embedded backend as embedded:<preset>+<file>
    error        VARCHAR,
    command      VARCHAR
);

-- The exact examples a run saw: pair_id for dpo/orpo, run_id:scenario_id for sft.
CREATE TABLE train_examples (
    train_id   VARCHAR NOT NULL,
    example_id VARCHAR NOT NULL,
    split      VARCHAR NOT NULL,        -- train | eval
    PRIMARY KEY (train_id, example_id)
);

CREATE TABLE train_metrics (
    train_id VARCHAR NOT NULL,
    step     INTEGER NOT NULL,
    split    VARCHAR NOT NULL,          -- train | eval
    name     VARCHAR NOT NULL,          -- loss, rewards/accuracies, rewards/margins, ...
    value    DOUBLE NOT NULL,
    PRIMARY KEY (train_id, step, split, name)
);
