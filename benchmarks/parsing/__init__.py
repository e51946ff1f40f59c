"""Parsing benchmark (issue 5): grouping accuracy and throughput against drain3 and LogLead."""
