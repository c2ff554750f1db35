"""Dashboards for people and machines: overview and environment pages, badges, metrics."""
