"""Regenerate the example project's source files (deterministic): python examples/generate_example_data.py"""

import csv
import random
from datetime import date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent / "manifests" / "data"
ZONES = [(z, f"Zone {z}", ("APAC", "EMEA", "AMER")[z % 3]) for z in range(1, 19)]


def main() -> None:
    rng = random.Random(7)
    (HERE / "trips").mkdir(parents=True, exist_ok=True)
    with open(HERE / "zones.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["zone_id", "zone_name", "region"])
        w.writerows(ZONES)
    trip_id = 0
    for day in range(14):
        d = date(2026, 3, 1) + timedelta(days=day)
        with open(HERE / "trips" / f"{d.isoformat()}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["trip_id", "pickup_at", "zone_id", "zone_name", "distance_km", "fare"])
            for _ in range(rng.randint(250, 350)):
                trip_id += 1
                at = datetime(d.year, d.month, d.day) + timedelta(seconds=rng.randint(0, 86399))
                km = round(rng.uniform(0.5, 25), 2)
                zone = rng.randint(1, 18)
                w.writerow([trip_id, at.isoformat(sep=" "), zone, f"Zone {zone}", km,
                            round(3 + km * rng.uniform(1.1, 2.4), 2)])


if __name__ == "__main__":
    main()
