-- Oyster warehouse, schema version 14: one vocabulary for counts. "dpo rows" are the rows of the `dpo`
-- view (one per prompt: what DPO trains on); "ranked pairs" are every row of preference_pairs (a
-- trajectory may rank several). run_costs says both, and tokens per dpo row, instead of one "pairs".

DROP VIEW IF EXISTS run_costs;
CREATE VIEW run_costs AS
WITH paid AS (
    SELECT
        run_id,
        count(*) AS calls,
        sum(prompt_tokens) AS prompt_tokens,
        sum(completion_tokens) AS completion_tokens,
        -- NULL where the role has no price at all, so an unpriced run shows no cost rather than 0
        sum(CASE WHEN prompt_price IS NOT NULL OR completion_price IS NOT NULL THEN
            prompt_tokens * coalesce(prompt_price, 0) + completion_tokens * coalesce(completion_price, 0)
        END) / 1000 AS cost
    FROM (
        SELECT
            c.*,
            TRY_CAST(json_extract_string(r.config, '$.roles.' || c.role || '.price_per_1k_prompt_tokens')
                AS DOUBLE) AS prompt_price,
            TRY_CAST(json_extract_string(r.config, '$.roles.' || c.role || '.price_per_1k_completion_tokens')
                AS DOUBLE) AS completion_price
        FROM llm_calls c
        JOIN runs r USING (run_id)
        WHERE NOT c.cache_hit
    )
    GROUP BY run_id
), ranked AS (
    SELECT run_id, count(*) AS ranked_pairs FROM preference_pairs GROUP BY run_id
), released AS (
    SELECT run_id, count(*) AS dpo_rows FROM dpo GROUP BY run_id
)
SELECT
    r.run_id,
    r.status,
    coalesce(p.calls, 0) AS calls,
    coalesce(p.prompt_tokens + p.completion_tokens, 0) AS tokens,
    coalesce(p.prompt_tokens, 0) AS prompt_tokens,
    coalesce(p.completion_tokens, 0) AS completion_tokens,
    coalesce(d.dpo_rows, 0) AS dpo_rows,
    coalesce(q.ranked_pairs, 0) AS ranked_pairs,
    (p.prompt_tokens + p.completion_tokens) / nullif(d.dpo_rows, 0) AS tokens_per_dpo_row,
    p.cost
FROM runs r
LEFT JOIN paid p USING (run_id)
LEFT JOIN ranked q USING (run_id)
LEFT JOIN released d USING (run_id);
