"""The registry's PostgreSQL, run by the CloudNativePG operator: TLS from the platform CA,
generated credentials, continuous WAL archiving and scheduled base backups to the stack's object
store, the failed-backup alert, and the manifests a point-in-time restore applies."""
