-- Trips and revenue per pickup zone for one day (zone names come with the trips).
SELECT
    trip_date,
    zone_id,
    zone_name,
    count(*) AS trips,
    round(sum(fare), 2) AS revenue,
    round(avg(distance_km), 2) AS avg_distance_km
FROM stg_trips
WHERE trip_date >= $partition_start AND trip_date < $partition_end
GROUP BY trip_date, zone_id, zone_name
