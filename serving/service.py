"""BentoML entry point of the serving image: `bentoml serve service:ClickcastService`."""

from clickcast.serving.service import ClickcastService

__all__ = ["ClickcastService"]
