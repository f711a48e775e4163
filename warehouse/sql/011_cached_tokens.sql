-- Oyster warehouse, schema version 11: prompt tokens a server answered from its prompt cache.
-- NULL where the backend does not report it (the in-process embedded model, the scripted mock, a
-- server without `usage.prompt_tokens_details`); llama-server and vLLM report it per call, so the
-- share of prompt tokens served from cache is sum(cached_tokens) / sum(prompt_tokens) over the
-- calls that report it.

ALTER TABLE llm_calls ADD COLUMN cached_tokens INTEGER;
