-- Views that the training and evaluation steps read. Replaced as a whole on every migration.

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
LEFT JOIN scenarios s USING (run_id, scenario_id);

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
WHERE b.rk = 1;

CREATE OR REPLACE VIEW risk AS
SELECT
    t.run_id,
    t.scenario_id,
    s.messages[-1].content AS query,
    s.messages,
    s.language,
    t.risk ->> 'level' AS level,
    t.risk ->> 'intent' AS intent,
    t.risk ->> 'intent_form' AS intent_form,
    t.risk ->> 'category_l1' AS category_l1,
    t.risk ->> 'category_l2' AS category_l2,
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
    s.messages[-1].content AS query,
    s.messages,
    t.draft_think AS think,
    t.draft_response AS response,
    t.risk,
    t.stackelberg -> 'payoff_table' AS payoff_table,
    t.stop_reason,
    t.pair_status,
    t.pair_reason,
    t.best_score,
    t.trajectory -> 'iterations' AS optimize_history,
    t.created_at
FROM trajectory_records t
JOIN scenarios s USING (run_id, scenario_id);
