"""`autobot-guard serve`: the policy pack enforced by a validating admission webhook.

models.py parses AdmissionReviews, review.py decides (pure), store.py and
inventory_watch.py keep the objects the cross-resource rules need, app.py is the ASGI
application, server.py runs it with TLS and signals, metrics.py counts.
"""
