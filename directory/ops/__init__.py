"""Operations: health probes, Prometheus metrics and request logs, security headers, and the
client address behind the deployment's reverse proxies.

`health` answers /healthz and /readyz, `metrics` serves /metrics and logs each request, and
`security_headers` sends the Content-Security-Policy; each is a middleware in settings.py's
MIDDLEWARE, so it sees every request. `client_address` names the client that rate limits,
throttles and login lock-outs count (NUM_PROXIES).
"""
