-- Oyster warehouse, schema version 10: judge validation on any labelled file. Each verdict is compared
-- in its judge's classes (details.judged); the figures computed from them by evals.metrics are kept per
-- run, for the judge and for the best constant answer beside it.

-- One row per judged validation case: the expected class and the class the verdict counts as.
CREATE OR REPLACE VIEW eval_judge_verdicts AS
SELECT
    r.eval_id,
    json_extract_string(r.config, '$.judge') AS judge,
    r.judges ->> 'risk' AS risk_model,
    r.judges ->> 'user' AS user_model,
    r.dataset,
    s.sample_id,
    s.metadata['classes'] AS classes,
    s.target AS expected,
    sc.details ->> 'judged' AS judged,
    sc.label AS verdict,
    s.metadata
FROM eval_runs r
JOIN eval_samples s USING (eval_id)
JOIN eval_scores sc ON sc.eval_id = s.eval_id AND sc.sample_id = s.sample_id
WHERE r.task = 'judges' AND s.error IS NULL AND sc.details ->> 'judged' IS NOT NULL;

CREATE TABLE eval_judge_metrics (
    eval_id    VARCHAR NOT NULL,
    answer     VARCHAR NOT NULL,   -- 'judge', or 'always <class>' (the best constant answer)
    class      VARCHAR NOT NULL,   -- a class, or 'all' for the figures over every case
    position   INTEGER NOT NULL,   -- display order: 0 for 'all', then the judge's class order
    precision  DOUBLE,
    recall     DOUBLE,
    f1         DOUBLE,
    support    INTEGER NOT NULL,   -- cases expected in the class ('all': every case)
    agreement  DOUBLE,             -- 'all' rows only, as are macro_f1 and kappa
    macro_f1   DOUBLE,
    kappa      DOUBLE,
    PRIMARY KEY (eval_id, answer, class)
);
