"""The Stroom event contract (events-v1): CloudEvents envelopes, code lists and pseudonymisation."""
