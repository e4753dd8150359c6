"""Throwaway Superset config for trying docs/BI.md locally (never for production)."""

SECRET_KEY = "local-throwaway-superset-demo-key-0123456789"  # noqa: S105 - throwaway demo
SQLALCHEMY_DATABASE_URI = "sqlite:////tmp/superset-home/superset.db"
WTF_CSRF_ENABLED = False
FEATURE_FLAGS = {}
