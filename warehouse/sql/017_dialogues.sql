-- Oyster warehouse, schema version 17: dialogues. A dialogue runs Lingo-BP once per turn; each
-- turn's trajectory (and its iterations, pairs, calls) is stored under the turn's own scenario id,
-- '<dialogue_id>#t<turn>', whose `scenarios` row holds the conversation up to that turn. A
-- single-turn run (lingo_bp.turns: 1) writes none of these rows.

CREATE TABLE dialogues (
    run_id       VARCHAR NOT NULL,
    dialogue_id  VARCHAR NOT NULL,      -- the scenario the dialogue starts from
    persona      VARCHAR NOT NULL,      -- benign | vulnerable | malicious
    objective    VARCHAR NOT NULL,
    max_turns    INTEGER NOT NULL,
    turns        INTEGER NOT NULL,      -- turns finished and stored
    outcome      VARCHAR NOT NULL,      -- running | max_turns | follower_left | objective_achieved | failed
    outcome_turn INTEGER,
    final_move   JSON,                  -- the follower's move that ended the dialogue (a farewell)
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, dialogue_id)
);

CREATE TABLE dialogue_turns (
    run_id          VARCHAR NOT NULL,
    dialogue_id     VARCHAR NOT NULL,
    turn            INTEGER NOT NULL,
    scenario_id     VARCHAR NOT NULL,   -- the turn's trajectory: trajectory_records, iterations, pairs
    user_message    VARCHAR NOT NULL,
    reply           VARCHAR NOT NULL,   -- the assistant turn the dialogue went on from
    reply_iteration INTEGER,
    safety_verdict  VARCHAR,            -- of that reply, judged on the whole dialogue
    move            JSON,               -- the follower's move that wrote user_message (NULL on turn 1)
    status          VARCHAR NOT NULL,   -- the turn trajectory's status
    created_at      TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, dialogue_id, turn)
);
