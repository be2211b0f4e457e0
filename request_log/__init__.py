"""The request-log sink: receives the Seldon executor's logger CloudEvents, joins each request
with its response and later feedback by request id, and writes the joined rows as versioned
training data. Independent of `serving/` and `model/`; run it with `python -m request_log`."""
