"""Below both `model/` and `analysis/`: the errors they report to people and the record of a
named check. Neither imports the other for these; this package imports neither (it ships in
the training image beside `model/`)."""
