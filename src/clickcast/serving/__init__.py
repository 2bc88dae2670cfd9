"""The prediction service: a lean ASGI hot path (app.py) mounted in a BentoML service (service.py)."""
