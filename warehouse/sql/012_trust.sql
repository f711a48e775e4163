-- Oyster warehouse, schema version 12: pairs of two kinds, the validity records of judges, and the
-- trust each run put in its judges (the views over them are in views.sql).

-- constructive (a constructive reply over a worse one) | refusal_over_harm (a safe refusal over unsafe
-- compliance, where no reply was constructive)
ALTER TABLE preference_pairs ADD COLUMN kind VARCHAR DEFAULT 'constructive';

-- One measurement of a judge against human labels (`oyster eval judges`), exactly identified.
CREATE TABLE judge_records (
    record_id         VARCHAR PRIMARY KEY,
    judge             VARCHAR NOT NULL,   -- safety | satisfaction | refusal
    model             VARCHAR NOT NULL,   -- backend:model
    model_id          VARCHAR NOT NULL,   -- sha256:<file> or backend:model@endpoint
    template_hash     VARCHAR NOT NULL,
    method            VARCHAR NOT NULL,   -- sampled | probabilities | guard
    calibration       VARCHAR,
    case_source       VARCHAR NOT NULL,
    n                 INTEGER NOT NULL,
    macro_f1          DOUBLE NOT NULL,
    kappa             DOUBLE NOT NULL,
    positive_class    VARCHAR NOT NULL,
    recall_positive   DOUBLE,
    constant_answer   VARCHAR NOT NULL,
    constant_macro_f1 DOUBLE NOT NULL,
    constant_kappa    DOUBLE NOT NULL,
    eval_id           VARCHAR,
    created_at        TIMESTAMPTZ NOT NULL
);

-- Each judge a run used, the record found for it (if any) and whether the run trusts it; a resume
-- replaces the rows of its run (its judges are those of its latest attempt).
CREATE TABLE run_judges (
    run_id        VARCHAR NOT NULL,
    judge         VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    model_id      VARCHAR NOT NULL,
    template_hash VARCHAR NOT NULL,
    method        VARCHAR NOT NULL,
    calibration   VARCHAR,
    record_id     VARCHAR,
    record        JSON,
    trusted       BOOLEAN NOT NULL,
    reason        VARCHAR NOT NULL,
    PRIMARY KEY (run_id, judge)
);
