-- Oyster warehouse, schema version 1.
-- Every table is keyed so that a replayed write (resume, retry) replaces or skips, never duplicates.

CREATE TABLE runs (
    run_id          VARCHAR PRIMARY KEY,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    status          VARCHAR NOT NULL,
    config          JSON NOT NULL,
    models          JSON NOT NULL,      -- role -> backend:model
    prompt_versions JSON NOT NULL,      -- template -> sha256 prefix
    git_revision    VARCHAR,
    oyster_version  VARCHAR NOT NULL,
    command         VARCHAR
);

CREATE TABLE scenarios (
    run_id      VARCHAR NOT NULL,
    scenario_id VARCHAR NOT NULL,
    language    VARCHAR,
    user_type   VARCHAR,
    risk_level  VARCHAR,
    category_l1 VARCHAR,
    category_l2 VARCHAR,
    source      VARCHAR,
    messages    STRUCT(role VARCHAR, content VARCHAR)[] NOT NULL,
    PRIMARY KEY (run_id, scenario_id)
);

CREATE TABLE trajectory_records (
    run_id           VARCHAR NOT NULL,
    scenario_id      VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,   -- completed | failed
    stop_reason      VARCHAR,
    n_iterations     INTEGER NOT NULL,
    risk             JSON,               -- RiskAssessment of the query
    guidelines       JSON,
    stackelberg      JSON,               -- candidates, predictions, payoff table, committed index
    draft_think      VARCHAR,
    draft_response   VARCHAR,
    final_response   VARCHAR,
    best_score       DOUBLE,
    pair_status      VARCHAR,
    pair_reason      VARCHAR,
    next_move        JSON,
    trajectory       JSON NOT NULL,      -- the whole Trajectory object
    created_at       TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, scenario_id)
);

CREATE TABLE iterations (
    run_id             VARCHAR NOT NULL,
    scenario_id        VARCHAR NOT NULL,
    iteration          INTEGER NOT NULL,
    response           VARCHAR NOT NULL,
    chain              JSON NOT NULL,
    active_loss        VARCHAR,
    frozen             VARCHAR[],
    satisfaction_score DOUBLE,
    safety_score       DOUBLE,
    safety_verdict     VARCHAR,
    construction_score DOUBLE,
    PRIMARY KEY (run_id, scenario_id, iteration)
);

CREATE TABLE chain_nodes (
    run_id      VARCHAR NOT NULL,
    scenario_id VARCHAR NOT NULL,
    iteration   INTEGER NOT NULL,
    node        VARCHAR NOT NULL,
    content     VARCHAR NOT NULL,
    changed     BOOLEAN NOT NULL,
    frozen      BOOLEAN NOT NULL,
    PRIMARY KEY (run_id, scenario_id, iteration, node)
);

CREATE TABLE judgements (
    run_id      VARCHAR NOT NULL,
    scenario_id VARCHAR NOT NULL,
    iteration   INTEGER NOT NULL,
    kind        VARCHAR NOT NULL,   -- satisfaction | safety
    score       DOUBLE NOT NULL,
    verdict     VARCHAR,
    payload     JSON NOT NULL,
    PRIMARY KEY (run_id, scenario_id, iteration, kind)
);

CREATE TABLE gradients (
    run_id      VARCHAR NOT NULL,
    scenario_id VARCHAR NOT NULL,
    iteration   INTEGER NOT NULL,
    seq         INTEGER NOT NULL,   -- order of message passing within the iteration
    target_node VARCHAR NOT NULL,
    loss        VARCHAR NOT NULL,
    critique    VARCHAR NOT NULL,
    PRIMARY KEY (run_id, scenario_id, iteration, seq)
);

CREATE TABLE edits (
    run_id      VARCHAR NOT NULL,
    scenario_id VARCHAR NOT NULL,
    iteration   INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    node        VARCHAR NOT NULL,
    op          VARCHAR NOT NULL,
    target_list VARCHAR,
    idx         INTEGER,
    old         VARCHAR,
    new         VARCHAR,
    distance    DOUBLE NOT NULL,
    accepted    BOOLEAN NOT NULL,
    reason      VARCHAR,
    PRIMARY KEY (run_id, scenario_id, iteration, seq)
);

CREATE TABLE preference_pairs (
    pair_id            VARCHAR PRIMARY KEY,
    run_id             VARCHAR NOT NULL,
    scenario_id        VARCHAR NOT NULL,
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
    UNIQUE (run_id, scenario_id)
);

CREATE TABLE llm_calls (
    call_id           VARCHAR PRIMARY KEY,
    run_id            VARCHAR NOT NULL,
    scenario_id       VARCHAR,
    role              VARCHAR NOT NULL,
    step              VARCHAR NOT NULL,
    prompt_hash       VARCHAR NOT NULL,
    backend           VARCHAR NOT NULL,
    model             VARCHAR NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_ms        DOUBLE NOT NULL,
    cache_hit         BOOLEAN NOT NULL,
    attempt           INTEGER NOT NULL,
    ok                BOOLEAN NOT NULL,
    error             VARCHAR,
    created_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE failures (
    failure_id  VARCHAR PRIMARY KEY,
    run_id      VARCHAR NOT NULL,
    scenario_id VARCHAR,
    role        VARCHAR NOT NULL,
    step        VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,
    message     VARCHAR NOT NULL,
    raw_output  VARCHAR,
    attempts    INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
