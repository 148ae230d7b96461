-- One day of trips, typed; $partition_start/$partition_end bound the day being built.
SELECT
    CAST(trip_id AS BIGINT) AS trip_id,
    CAST(pickup_at AS TIMESTAMP) AS pickup_at,
    CAST(pickup_at AS DATE) AS trip_date,
    CAST(zone_id AS INTEGER) AS zone_id,
    zone_name,
    CAST(distance_km AS DOUBLE) AS distance_km,
    CAST(fare AS DECIMAL(10, 2)) AS fare
FROM raw_trips
WHERE CAST(pickup_at AS TIMESTAMP) >= $partition_start
  AND CAST(pickup_at AS TIMESTAMP) < $partition_end
