"""Intake: validates, pseudonymises and durably accepts events, and relays them to Kafka."""
