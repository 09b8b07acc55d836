"""The crawler app: sources, SOGS client and tasks."""
