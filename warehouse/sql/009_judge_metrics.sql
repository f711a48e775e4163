-- Oyster warehouse, schema version 10: judge validation on any labelled file. Each verdict is compared
-- in its judge's classes (details.judged); the figures computed from them by evals.metrics are kept per
-- run, for the judge and for the best constant answer beside it.

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
