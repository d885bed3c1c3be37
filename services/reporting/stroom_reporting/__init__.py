"""Reporting: monthly figures, KPIs and exports materialised from the caseload facts."""
