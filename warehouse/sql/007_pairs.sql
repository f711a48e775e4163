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
