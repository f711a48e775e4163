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

-- Each conversation as it went: the last turn's messages and the reply the dialogue went on from
-- (`answered`), then the follower's farewell when it left (`messages`).
CREATE OR REPLACE VIEW conversations AS
WITH last AS (
    SELECT t.*, row_number() OVER (PARTITION BY t.run_id, t.dialogue_id ORDER BY t.turn DESC) AS rk
    FROM dialogue_turns t
), answered AS (
    SELECT
        d.*,
        list_concat(s.messages, [{'role': 'assistant', 'content': l.reply}]) AS answered
    FROM dialogues d
    JOIN last l ON l.run_id = d.run_id AND l.dialogue_id = d.dialogue_id AND l.rk = 1
    JOIN scenarios s ON s.run_id = l.run_id AND s.scenario_id = l.scenario_id
)
SELECT
    run_id,
    dialogue_id,
    persona,
    objective,
    outcome,
    outcome_turn,
    turns,
    CASE WHEN final_move IS NULL THEN answered
         ELSE list_concat(answered, [{'role': 'user', 'content': final_move ->> 'message'}]) END AS messages,
    answered
FROM answered;

-- The dpo rows of dialogue turns: prompt is the whole message history up to the turn (TRL's
-- conversational format), with the dialogue and turn it came from.
CREATE OR REPLACE VIEW dpo_dialogue AS
SELECT t.dialogue_id, t.turn, d.persona, d.outcome, p.*
FROM dpo p
JOIN dialogue_turns t ON t.run_id = p.run_id AND t.scenario_id = p.scenario_id
JOIN dialogues d ON d.run_id = t.run_id AND d.dialogue_id = t.dialogue_id;

-- Whole conversations for supervised fine-tuning: every reply the dialogue went on from judged safe.
CREATE OR REPLACE VIEW sft_dialogue AS
SELECT c.run_id, c.dialogue_id, c.persona, c.turns, c.outcome, c.answered AS messages
FROM conversations c
WHERE c.outcome IN ('max_turns', 'follower_left')
  AND NOT EXISTS (
      SELECT 1 FROM dialogue_turns t
      WHERE t.run_id = c.run_id AND t.dialogue_id = c.dialogue_id
        AND coalesce(t.safety_verdict, 'unsafe') NOT IN ('safe', 'generally_safe')
  );

-- Model calls paid for (cache hits are free) per dialogue turn, the follower's calls included;
-- sum over turn for a dialogue's cost.
CREATE OR REPLACE VIEW dialogue_costs AS
SELECT
    c.run_id,
    d.dialogue_id,
    CAST(regexp_extract(c.scenario_id, '#t([0-9]+)$', 1) AS INTEGER) AS turn,
    count(*) AS calls,
    count(*) FILTER (c.role = 'user' AND c.step = 'user_next_turn') AS follower_calls,
    sum(c.prompt_tokens + c.completion_tokens) AS tokens,
    sum(c.prompt_tokens) AS prompt_tokens,
    sum(c.completion_tokens) AS completion_tokens
FROM llm_calls c
JOIN dialogues d
  ON d.run_id = c.run_id AND regexp_replace(c.scenario_id, '#t[0-9]+$', '') = d.dialogue_id
WHERE NOT c.cache_hit AND regexp_matches(c.scenario_id, '#t[0-9]+$')
GROUP BY ALL;
