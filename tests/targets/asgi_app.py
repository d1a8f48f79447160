"""An ASGI app for gunicorn + uvicorn workers: /block holds its worker's loop with a
synchronous sleep, /pid says which worker answered."""
import os
import time


def legacy_client_call():
    time.sleep(0.25)  # @asgi_block


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/block":
        legacy_client_call()
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
