-- Oyster warehouse, schema version 7: several ranked pairs per trajectory, truncation and exclusion
-- recorded on the row, the final judgement as stored fields, and the views rebuilt on them.

-- preference_pairs allowed one pair per trajectory (UNIQUE (run_id, scenario_id)); DuckDB cannot drop a
-- constraint, so the table is rebuilt with a rank. Existing pairs become rank 1.
CREATE TABLE preference_pairs_v5 (
    pair_id            VARCHAR PRIMARY KEY,
    run_id             VARCHAR NOT NULL,
    scenario_id        VARCHAR NOT NULL,
    rank               INTEGER NOT NULL DEFAULT 1,   -- 1 = the pair dpo takes for this trajectory
    prompt             STRUCT(role VARCHAR, content VARCHAR)[] NOT NULL,
    chosen             VARCHAR NOT NULL,
    rejected           VARCHAR NOT NULL,
    chosen_iteration   INTEGER NOT NULL,
    rejected_iteration INTEGER NOT NULL,
    chosen_chain       JSON NOT NULL,
    rejected_chain     JSON NOT NULL,
    chosen_scores      JSON NOT NULL,
    rejected_scores    JSON NOT NULL,
    chosen_score       DOUBLE NOT NULL,
    rejected_score     DOUBLE NOT NULL,
    margin             DOUBLE NOT NULL,
    rule               VARCHAR NOT NULL,
    UNIQUE (run_id, scenario_id, rank)
);
INSERT INTO preference_pairs_v5 BY NAME SELECT *, 1 AS rank FROM preference_pairs;
DROP VIEW IF EXISTS dpo;
DROP TABLE preference_pairs;
ALTER TABLE preference_pairs_v5 RENAME TO preference_pairs;

-- A reply cut to the length cap says so; a reply the pair rule may not choose says why.
ALTER TABLE iterations ADD COLUMN truncated BOOLEAN DEFAULT false;
ALTER TABLE iterations ADD COLUMN excluded VARCHAR;

-- The final iteration's judgement and the predicted next user turn, as columns rather than JSON paths.
ALTER TABLE trajectory_records ADD COLUMN final_satisfaction DOUBLE;
ALTER TABLE trajectory_records ADD COLUMN final_safety DOUBLE;
ALTER TABLE trajectory_records ADD COLUMN final_verdict VARCHAR;
ALTER TABLE trajectory_records ADD COLUMN final_construction DOUBLE;
ALTER TABLE trajectory_records ADD COLUMN next_turn VARCHAR;
ALTER TABLE trajectory_records ADD COLUMN n_pairs INTEGER DEFAULT 0;

-- Every pair, each (prompt, chosen, rejected) once (a replayed run writes the same pairs again: the
-- earliest copy is kept), with its reasoning paths and a split fixed by the prompt alone, so that one
-- prompt's pairs never straddle train and test (about 1 prompt in 10 is test).
CREATE OR REPLACE VIEW dpo_all AS
WITH keyed AS (
    SELECT p.*, md5(CAST(p.prompt AS VARCHAR)) AS prompt_key, r.started_at
    FROM preference_pairs p
    LEFT JOIN runs r USING (run_id)
), unique_pairs AS (
    SELECT *, row_number() OVER (
        PARTITION BY prompt_key, md5(chosen), md5(rejected) ORDER BY started_at, run_id, rank
    ) AS copy
    FROM keyed
)
SELECT
    u.pair_id,
    u.run_id,
    u.scenario_id,
    u.rank,
    u.prompt,
    [{'role': 'assistant', 'content': u.chosen}] AS chosen,
    [{'role': 'assistant', 'content': u.rejected}] AS rejected,
    u.chosen_chain,
    u.rejected_chain,
    u.margin,
    u.chosen_score,
    u.rejected_score,
    u.chosen_iteration,
    u.rejected_iteration,
    CASE WHEN md5_number(u.prompt_key) % 10 = 0 THEN 'test' ELSE 'train' END AS split,
    s.language,
    s.risk_level,
    s.user_type,
    s.category_l2
FROM unique_pairs u
LEFT JOIN scenarios s USING (run_id, scenario_id)
WHERE u.copy = 1
  AND u.pair_id NOT IN (SELECT pair_id FROM rejected_pairs);  -- a reviewer's reject takes it out

-- One pair per trajectory: the best-ranked one left after de-duplication.
CREATE OR REPLACE VIEW dpo AS
SELECT * EXCLUDE (rk)
FROM (
    SELECT d.*, row_number() OVER (PARTITION BY d.run_id, d.scenario_id ORDER BY d.rank) AS rk
    FROM dpo_all d
)
WHERE rk = 1;

-- The best safe reply of each trajectory that did not fail, judged more satisfying than not, fit to
-- train on (not cut, not excluded by the reply checks); each (prompt, completion) once.
CREATE OR REPLACE VIEW sft AS
WITH best AS (
    SELECT i.*, row_number() OVER (
        PARTITION BY i.run_id, i.scenario_id ORDER BY i.construction_score DESC, i.iteration DESC
    ) AS rk
    FROM iterations i
    JOIN trajectory_records t USING (run_id, scenario_id)
    WHERE i.safety_verdict = 'safe'
      AND i.satisfaction_score > 0
      AND NOT coalesce(i.truncated, false)
      AND i.excluded IS NULL
      AND t.status <> 'failed'
      AND NOT EXISTS (
          SELECT 1 FROM rejected_pairs r WHERE r.run_id = i.run_id AND r.scenario_id = i.scenario_id
      )
), rows AS (
    SELECT
        b.run_id,
        b.scenario_id,
        s.messages AS prompt,
        [{'role': 'assistant', 'content': b.response}] AS completion,
        list_concat(s.messages, [{'role': 'assistant', 'content': b.response}]) AS messages,
        b.chain,
        b.iteration,
        b.construction_score,
        b.satisfaction_score,
        s.language,
        s.risk_level,
        row_number() OVER (
            PARTITION BY md5(CAST(s.messages AS VARCHAR)), md5(b.response) ORDER BY r.started_at, b.run_id
        ) AS copy
    FROM best b
    JOIN scenarios s USING (run_id, scenario_id)
    LEFT JOIN runs r USING (run_id)
    WHERE b.rk = 1
)
SELECT * EXCLUDE (copy) FROM rows WHERE copy = 1;

-- The risk assessor's predictions beside the scenario's own labels (label_* are NULL when unlabelled).
CREATE OR REPLACE VIEW risk AS
SELECT
    t.run_id,
    t.scenario_id,
    s.messages[-1].content AS query,
    s.messages,
    s.language,
    t.risk ->> 'level' AS level,
    s.risk_level AS label_level,
    t.risk ->> 'likely_user_type' AS user_type,
    s.user_type AS label_user_type,
    t.risk ->> 'category_l1' AS category_l1,
    s.category_l1 AS label_category_l1,
    t.risk ->> 'category_l2' AS category_l2,
    s.category_l2 AS label_category_l2,
    t.risk ->> 'intent' AS intent,
    t.risk ->> 'intent_form' AS intent_form,
    t.risk -> 'severity' AS severity,
    t.risk ->> 'rationale' AS rationale,
    t.risk AS assessment
FROM trajectory_records t
JOIN scenarios s USING (run_id, scenario_id)
WHERE t.risk IS NOT NULL;

CREATE OR REPLACE VIEW trajectories AS
SELECT
    t.run_id,
    t.scenario_id,
    t.status,
    s.language,
    s.messages[-1].content AS query,
    s.messages,
    t.draft_think AS think,
    t.draft_response AS response,
    t.final_response,
    t.final_satisfaction,
    t.final_safety,
    t.final_verdict,
    t.final_construction,
    t.best_score,
    t.next_turn,
    t.next_move,
    t.risk,
    t.stackelberg -> 'payoff_table' AS payoff_table,
    t.stop_reason,
    t.pair_status,
    t.pair_reason,
    t.n_pairs,
    t.trajectory -> 'iterations' AS optimize_history,
    t.created_at
FROM trajectory_records t
JOIN scenarios s USING (run_id, scenario_id);
