"""The app factory uvicorn imports in each worker process."""

from starlette.applications import Starlette

from server.app import create_app
from server.settings import load_settings


def create() -> Starlette:
    return create_app(load_settings())
