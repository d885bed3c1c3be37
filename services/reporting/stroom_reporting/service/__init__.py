"""Reporting's use cases: the report families, the KPI sheet, the report for publication and
the CSV/XLSX downloads, each built from the read models through `queries`."""
