"""Teacher calls: request keys, the response store, the job-wide limiter and three backends
(openai, hf, vllm) that all return one row schema."""
