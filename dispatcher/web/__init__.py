"""The web layer: FastAPI app, REST API v1 (and later the operators' console)."""

from dispatcher.web.app import create_app
from dispatcher.web.context import AppContext

__all__ = ["AppContext", "create_app"]
