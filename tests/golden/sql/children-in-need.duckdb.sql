-- Pass over source 'ssd-cin-episodes': counts children-in-need-rate
-- by small area (addr_address_postcode_lsoa) and month (cine_referral_date), in one scan of the
-- current Parquet parts of the store (each only for the periods it is current).
-- The small area is the person's latest in source 'ssd-address' (by cine_person_id_pseudonym).
-- A stock: counted by the month each record opens (cine_referral_date) and closes (cine_close_date);
-- stage two makes those +1 and -1 and sums them to each period's last month.
-- Roll-up to wards, localities and the borough, periods, intervals,
-- comparisons and disclosure control follow in Arrow (engine/results.py).
SELECT
  COALESCE(area__, '(no small area)') AS area_code,
  DATE_TRUNC('MONTH', cine_referral_date) AS month,
  DATE_TRUNC('MONTH', cine_close_date) AS closed__,
  SUM(
    CASE
      WHEN (
        cine_referral_nfa IS NULL OR cine_referral_nfa <> 'Y'
      )
      THEN 1
      ELSE 0
    END
  ) AS "children-in-need-rate__numerator"
FROM (
  SELECT
    rows.*,
    places.area__
  FROM (
    SELECT
      *
    FROM READ_PARQUET('versions/ssd-cin-episodes/V1/data/part-00000.parquet')
    WHERE
      period IN ('2023/24')
  ) AS rows
  LEFT JOIN (
    SELECT
      person__,
      area__
    FROM (
      SELECT
        addr_person_id_pseudonym AS person__,
        addr_address_postcode_lsoa AS area__,
        ROW_NUMBER() OVER (
          PARTITION BY addr_person_id_pseudonym
          ORDER BY addr_address_start_date DESC, addr_address_postcode_lsoa
        ) AS rank__
      FROM (
        SELECT
          *
        FROM READ_PARQUET('versions/ssd-address/V1/data/part-00000.parquet')
        WHERE
          period IN ('2023/24')
      ) AS rows
      WHERE
        NOT addr_person_id_pseudonym IS NULL AND NOT addr_address_postcode_lsoa IS NULL
    ) AS ranked
    WHERE
      rank__ = 1
  ) AS places
    ON rows.cine_person_id_pseudonym = places.person__
) AS rows
WHERE
  NOT cine_referral_date IS NULL
GROUP BY
  area_code,
  month,
  closed__;

-- Denominator of children-in-need-rate from source 'population': population where age < 18,
-- by small area (residence_area_code) and month (reference_date); each period takes the latest snapshot on or before its end.
SELECT
  COALESCE(residence_area_code, '(no small area)') AS area_code,
  DATE_TRUNC('MONTH', reference_date) AS month,
  SUM(CASE WHEN (
    age < 18
  ) THEN (
    population
  ) ELSE 0 END) AS "children-in-need-rate__denominator"
FROM (
  SELECT
    *
  FROM READ_PARQUET('versions/population/V1/data/part-00000.parquet')
  WHERE
    period IN ('2023/24')
) AS rows
WHERE
  NOT reference_date IS NULL
GROUP BY
  area_code,
  month;
