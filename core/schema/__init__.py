"""The report schema both apps share: the fields a report has and their codes."""
