-- What each run spent on models: calls and tokens paid for (cache hits are free), tokens per
-- preference pair, and money where the run's config gives per-role prices.

CREATE OR REPLACE VIEW run_costs AS
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
), pairs AS (
    SELECT run_id, count(*) AS pairs FROM preference_pairs GROUP BY run_id
)
SELECT
    r.run_id,
    r.status,
    coalesce(p.calls, 0) AS calls,
    coalesce(p.prompt_tokens + p.completion_tokens, 0) AS tokens,
    coalesce(p.prompt_tokens, 0) AS prompt_tokens,
    coalesce(p.completion_tokens, 0) AS completion_tokens,
    coalesce(q.pairs, 0) AS pairs,
    (p.prompt_tokens + p.completion_tokens) / nullif(q.pairs, 0) AS tokens_per_pair,
    p.cost
FROM runs r
LEFT JOIN paid p USING (run_id)
LEFT JOIN pairs q USING (run_id);
