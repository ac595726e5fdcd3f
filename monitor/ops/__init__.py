"""Running in production: read replicas (routers.py), our own `check --deploy` warnings
(checks.py) and the health endpoint (health.py)."""
