"""The response cache: what was bought is kept, and never bought again."""
