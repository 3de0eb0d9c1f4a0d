-- Pass over source 'maternity': counts low-birth-weight-term, premature-births, smoking-at-delivery
-- by small area (residence_area_code) and month (baby_dob_month), baby_sex, in one scan of the
-- current Parquet parts of the store (each only for the periods it is current).
-- Roll-up to wards, localities and the borough, periods, intervals,
-- comparisons and disclosure control follow in Arrow (engine/results.py).
SELECT
  COALESCE(residence_area_code, '(no small area)') AS area_code,
  DATE_TRUNC('MONTH', baby_dob_month) AS month,
  COALESCE(CAST(baby_sex AS TEXT), 'unknown') AS breakdown__baby_sex,
  SUM(
    CASE
      WHEN (
        gestational_age_weeks >= 37
        AND birth_outcome = 'live'
        AND NOT birth_weight_g IS NULL
      )
      AND (
        birth_weight_g < 2500
      )
      THEN 1
      ELSE 0
    END
  ) AS "low-birth-weight-term__numerator",
  SUM(
    CASE
      WHEN (
        gestational_age_weeks >= 37
        AND birth_outcome = 'live'
        AND NOT birth_weight_g IS NULL
      )
      THEN 1
      ELSE 0
    END
  ) AS "low-birth-weight-term__denominator",
  SUM(
    CASE
      WHEN (
        TRUE
      ) AND (
        gestational_age_weeks < 37 OR birth_outcome = 'stillbirth'
      )
      THEN 1
      ELSE 0
    END
  ) AS "premature-births__numerator",
  SUM(CASE WHEN (
    TRUE
  ) THEN 1 ELSE 0 END) AS "premature-births__denominator",
  SUM(
    CASE
      WHEN (
        smoking_at_delivery IN ('Y', 'N')
      ) AND (
        smoking_at_delivery = 'Y'
      )
      THEN 1
      ELSE 0
    END
  ) AS "smoking-at-delivery__numerator",
  SUM(CASE WHEN (
    smoking_at_delivery IN ('Y', 'N')
  ) THEN 1 ELSE 0 END) AS "smoking-at-delivery__denominator"
FROM (
  SELECT
    *
  FROM READ_PARQUET('versions/maternity/V1/data/part-00000.parquet')
  WHERE
    period IN ('2023/24', '2024/25')
  UNION ALL
  SELECT
    *
  FROM READ_PARQUET('versions/maternity/V2/data/part-00000.parquet')
  WHERE
    period IN ('2022/23')
) AS rows
WHERE
  NOT baby_dob_month IS NULL
GROUP BY
  area_code,
  month,
  breakdown__baby_sex;
