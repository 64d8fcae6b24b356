"""Backends that turn request groups into stored responses: openai, hf and vLLM actors, and the
job-wide limiter they share."""
