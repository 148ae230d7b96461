"""The finance team's Python: tomorrow's revenue forecast, and a chart per day.

duck calls each function once per daily partition, with a context (partition key, time window,
run id, a log) and each upstream asset as a DuckDB relation of the days it reads.
"""

from datetime import timedelta

from charts import bar_chart


def forecast(context, daily_revenue):
    """Tomorrow's revenue: today's, moved by half of the change since yesterday."""
    day = context.partition_time_window.start.date()
    by_day = dict(daily_revenue.project("trip_date, revenue").fetchall())
    today, yesterday = by_day.get(day), by_day.get(day - timedelta(days=1))
    if today is None:
        raise ValueError(f"daily_revenue has no row for {day}")
    trend = (float(today) - float(yesterday)) / 2 if yesterday is not None else 0.0
    context.log.info("forecast for %s from %s day(s)", day + timedelta(days=1), len(by_day))
    return context.con.sql(
        "SELECT $day AS trip_date, $next AS forecast_date, round($value, 2) AS forecast_revenue",
        params={"day": day, "next": day + timedelta(days=1),
                "value": max(0.0, float(today) + trend)})


def revenue_chart(context, daily_revenue, revenue_forecast):
    """An SVG bar chart of the day's revenue next to the forecast made from it."""
    [(revenue,)] = daily_revenue.project("revenue").fetchall()
    [(predicted,)] = revenue_forecast.project("forecast_revenue").fetchall()
    bars = [("revenue", float(revenue)), ("forecast", float(predicted))]
    (context.output_dir / "revenue.svg").write_text(bar_chart(context.partition_key, bars))


def chart_is_svg(context, revenue_chart):
    """Every file is an SVG document."""
    bad = [f for (f,) in revenue_chart.project("file").fetchall()
           if not (context.output_dir / f).read_text().startswith("<svg")]
    return {"passed": not bad, "observed": f"{len(bad)} non-SVG file(s)", "failing": len(bad)}
