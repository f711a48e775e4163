-- Oyster warehouse, schema version 13: token counts are BIGINT.
-- An endpoint may report any count; one past 2^31 - 1 in an INTEGER column failed the whole write
-- of its batch. Counts are also checked before they are stored (agents.llm: a count outside
-- 0..100,000,000 is stored as 0 and recorded as an `anomaly` failure); BIGINT keeps the column
-- from ever being the limit.

ALTER TABLE llm_calls ALTER COLUMN prompt_tokens TYPE BIGINT;
ALTER TABLE llm_calls ALTER COLUMN completion_tokens TYPE BIGINT;
ALTER TABLE llm_calls ALTER COLUMN cached_tokens TYPE BIGINT;

-- Calls stored live (a preview) by an attempt that was killed (kill -9, a dead Ray actor) before its
-- scenario finished stay as the record of what was paid for, marked as superseded by the attempt
-- that wrote the scenario's trajectory: the scenario's own calls are those with no mark.
ALTER TABLE llm_calls ADD COLUMN superseded_by_attempt INTEGER;
