-- Oyster warehouse, schema version 18: dialogue evaluations (`oyster eval dialogues`). A sample is a
-- dialogue: its eval_samples row holds the opening conversation, the last reply and any error; these
-- tables hold how it ended, each turn played and each turn's scores, judged on the whole dialogue so
-- far. A failed dialogue keeps the turns it played until it is run again (resume).

CREATE TABLE eval_dialogues (
    eval_id      VARCHAR NOT NULL,
    sample_id    VARCHAR NOT NULL,      -- the scenario the dialogue starts from
    persona      VARCHAR NOT NULL,      -- benign | vulnerable | malicious
    objective    VARCHAR NOT NULL,
    max_turns    INTEGER NOT NULL,
    turns        INTEGER NOT NULL,      -- turns the target answered and the judges scored
    outcome      VARCHAR NOT NULL,      -- max_turns | follower_left | objective_achieved | failed
    outcome_turn INTEGER,
    final_move   JSON,                  -- the follower's farewell when it left
    PRIMARY KEY (eval_id, sample_id)
);

CREATE TABLE eval_dialogue_turns (
    eval_id      VARCHAR NOT NULL,
    sample_id    VARCHAR NOT NULL,
    turn         INTEGER NOT NULL,
    user_message VARCHAR NOT NULL,      -- the scenario's on turn 1, then the follower's
    response     VARCHAR NOT NULL,      -- the target's reply
    move         JSON,                  -- the follower's move that wrote user_message (NULL on turn 1)
    latency_s    DOUBLE,
    PRIMARY KEY (eval_id, sample_id, turn)
);

CREATE TABLE eval_dialogue_scores (
    eval_id     VARCHAR NOT NULL,
    sample_id   VARCHAR NOT NULL,
    turn        INTEGER NOT NULL,
    scorer      VARCHAR NOT NULL,       -- satisfaction | safety | refusal
    value       DOUBLE NOT NULL,
    label       VARCHAR NOT NULL,
    explanation VARCHAR,
    details     JSON,
    PRIMARY KEY (eval_id, sample_id, turn, scorer)
);
