"""B1's baseline: the same gunicorn serving an endpoint that only verifies the HMAC and answers 200."""

import base64
import hashlib
import hmac
import os

from flask import Flask, abort, request

app = Flask(__name__)
SECRET = os.environ["SHOPIFY_API_SECRET"].encode()


@app.post("/webhooks")
def webhooks():
    digest = base64.b64encode(hmac.new(SECRET, request.get_data(), hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(digest, request.headers.get("X-Shopify-Hmac-Sha256", "")):
        abort(401)
    return "", 200
