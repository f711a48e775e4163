-- Oyster warehouse, schema version 10: judge calibrations. A verdict threshold (and the few-shot
-- exemplars) fitted per judge and judge model on a labelled file by `oyster eval judges --calibrate`;
-- the newest row per (judge, model) is the one judges use. Each verdict that used one names it in
-- eval_scores.details ->> 'calibration' (and, in the loop, in the stored safety judgement).

CREATE TABLE judge_calibrations (
    calibration_id VARCHAR PRIMARY KEY,
    created_at     TIMESTAMPTZ NOT NULL,
    judge          VARCHAR NOT NULL,   -- safety | refusal | satisfaction
    model          VARCHAR NOT NULL,   -- the judge's role model, backend:model
    threshold      DOUBLE NOT NULL,    -- positive class when P(positive) >= threshold
    exemplars      JSON NOT NULL,      -- [{prompt, response, verdict}]
    dataset        VARCHAR,
    n              INTEGER NOT NULL,
    folds          INTEGER NOT NULL,
    metrics        JSON NOT NULL,      -- held-out k-fold figures of the fitting run
    eval_id        VARCHAR             -- the eval run whose scores it was fitted on
);
