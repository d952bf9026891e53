-- /stats and the report read the period's surveys several times (ratings, results, payments,
-- each respondent field): with every column they read in one index, each pass reads the index
-- alone, never the table row by row.
CREATE INDEX surveys_for_stats ON surveys (
    created_at, service, overall, conditions, staff, information, requirements, timeliness,
    result_ok, paid_unofficial, sex, age_band, education, occupation, settlement
);
