"""The local-run harness: the model server started as the image starts it, on free ports, with
the process-group start/stop helpers that the tests, `make demo` and `make bench` share."""
