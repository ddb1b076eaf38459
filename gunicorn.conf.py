"""Gunicorn settings, read from the working directory (the Procfile web process and `make demo`)."""

# Access log without query strings or referers: page loads carry `id_token` (a session token) and Shopify's
# `hmac` in the query, and nothing may log a token (issue 4). %(U)s is the path alone.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
