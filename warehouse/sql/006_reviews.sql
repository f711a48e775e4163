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

CREATE OR REPLACE VIEW review_latest AS
SELECT * FROM reviews
QUALIFY row_number() OVER (PARTITION BY target ORDER BY created_at DESC, review_id DESC) = 1;

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

-- dpo and sft as in 002, less what a reviewer rejected (the latest review of the pair says reject).
CREATE OR REPLACE VIEW rejected_pairs AS
SELECT pair_id, run_id, scenario_id FROM review_latest WHERE target_kind = 'pair' AND label = 'reject';

CREATE OR REPLACE VIEW dpo AS
SELECT
    p.pair_id,
    p.run_id,
    p.scenario_id,
    p.prompt,
    [{'role': 'assistant', 'content': p.chosen}] AS chosen,
    [{'role': 'assistant', 'content': p.rejected}] AS rejected,
    p.margin,
    p.chosen_score,
    p.rejected_score,
    s.language,
    s.risk_level,
    s.user_type,
    s.category_l2
FROM preference_pairs p
LEFT JOIN scenarios s USING (run_id, scenario_id)
WHERE p.pair_id NOT IN (SELECT pair_id FROM rejected_pairs);

CREATE OR REPLACE VIEW sft AS
WITH best AS (
    SELECT i.*, row_number() OVER (
        PARTITION BY i.run_id, i.scenario_id ORDER BY i.construction_score DESC, i.iteration DESC
    ) AS rk
    FROM iterations i
    WHERE i.safety_verdict = 'safe'
)
SELECT
    b.run_id,
    b.scenario_id,
    s.messages AS prompt,
    [{'role': 'assistant', 'content': b.response}] AS completion,
    list_concat(s.messages, [{'role': 'assistant', 'content': b.response}]) AS messages,
    b.chain,
    b.iteration,
    b.construction_score,
    s.language,
    s.risk_level
FROM best b
JOIN scenarios s USING (run_id, scenario_id)
WHERE b.rk = 1
  AND NOT EXISTS (
      SELECT 1 FROM rejected_pairs r WHERE r.run_id = b.run_id AND r.scenario_id = b.scenario_id
  );
