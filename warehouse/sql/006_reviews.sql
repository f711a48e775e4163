-- Oyster warehouse, schema version 8: human review and release.
-- Reviews are appended, never updated: the latest review of a target is its state, older ones are history.

CREATE TABLE reviews (
    review_id     VARCHAR PRIMARY KEY,
    reviewer      VARCHAR NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    target        VARCHAR NOT NULL,   -- 'pair:<pair_id>' or 'judgement:<pair_id>:<iteration>:<kind>'
    target_kind   VARCHAR NOT NULL,   -- pair | judgement
    pair_id       VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL,
    scenario_id   VARCHAR NOT NULL,
    iteration     INTEGER,            -- judgement reviews: the judged iteration
    judge         VARCHAR,            -- judgement reviews: satisfaction | safety
    judge_label   VARCHAR,            -- judgement reviews: what the judge said when it was reviewed
    label         VARCHAR NOT NULL,   -- pair: accept | reject; judgement: right | wrong
    correct_label VARCHAR,            -- judgement marked wrong: the label the reviewer gives instead
    note          VARCHAR,
    pair_version  VARCHAR NOT NULL    -- hash of the pair as the reviewer saw it
);

-- Near-duplicate prompts across runs (MinHash, written by warehouse.release); the duplicate is left out
-- of a release, the scenario it duplicates is kept.
CREATE TABLE near_duplicates (
    run_id          VARCHAR NOT NULL,
    scenario_id     VARCHAR NOT NULL,
    kept_run_id     VARCHAR NOT NULL,
    kept_scenario_id VARCHAR NOT NULL,
    similarity      DOUBLE NOT NULL,  -- MinHash estimate of the Jaccard similarity of the prompts
    computed_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, scenario_id)
);
