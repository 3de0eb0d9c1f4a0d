SELECT
  b.level__,
  b.code__,
  m.period_type__,
  m.period__,
  b.breakdown__baby_sex,
  GROUPING(b.breakdown__baby_sex) AS grouped__baby_sex,
  SUM(b.`low-birth-weight-term__numerator`) AS `low-birth-weight-term__numerator`,
  SUM(b.`low-birth-weight-term__denominator`) AS `low-birth-weight-term__denominator`,
  SUM(b.`premature-births__numerator`) AS `premature-births__numerator`,
  SUM(b.`premature-births__denominator`) AS `premature-births__denominator`,
  SUM(b.`smoking-at-delivery__numerator`) AS `smoking-at-delivery__numerator`,
  SUM(b.`smoking-at-delivery__denominator`) AS `smoking-at-delivery__denominator`
FROM (
  SELECT
    a.level__,
    a.code__,
    CAST(c.month AS DATE) AS month__,
    c.breakdown__baby_sex,
    SUM(CAST(c.`low-birth-weight-term__numerator` AS DOUBLE)) AS `low-birth-weight-term__numerator`,
    SUM(CAST(c.`low-birth-weight-term__denominator` AS DOUBLE)) AS `low-birth-weight-term__denominator`,
    SUM(CAST(c.`premature-births__numerator` AS DOUBLE)) AS `premature-births__numerator`,
    SUM(CAST(c.`premature-births__denominator` AS DOUBLE)) AS `premature-births__denominator`,
    SUM(CAST(c.`smoking-at-delivery__numerator` AS DOUBLE)) AS `smoking-at-delivery__numerator`,
    SUM(CAST(c.`smoking-at-delivery__denominator` AS DOUBLE)) AS `smoking-at-delivery__denominator`
  FROM counts__ AS c
  JOIN areas__ AS a
    ON c.area_code = a.small__
  GROUP BY
    a.level__,
    a.code__,
    CAST(c.month AS DATE),
    c.breakdown__baby_sex
) AS b
JOIN months__ AS m
  ON b.month__ = m.month__
GROUP BY
  GROUPING SETS (
    (b.level__, b.code__, m.period_type__, m.period__),
    (b.level__, b.code__, m.period_type__, m.period__, b.breakdown__baby_sex)
  );
