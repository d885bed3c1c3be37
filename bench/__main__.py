"""Lists the benchmarks; each one runs with `.venv/bin/python -m bench.<name>`."""

BENCHMARKS = {
    "intake": "HTTP intake into the PostgreSQL outbox and on to Kafka, beside raw aiokafka produce",
    "reporting": "monthly report latency from the read models, beside DuckDB over raw events",
}

if __name__ == "__main__":
    for name, description in BENCHMARKS.items():
        print(f"python -m bench.{name:<12} {description}")
