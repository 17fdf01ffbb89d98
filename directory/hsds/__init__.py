"""Open Referral HSDS 3.0: the read-only API (`api`), the JSON shape (`serialize`), the exporter
(`export`) and the importer (`importing`), with HSDS's own descriptors in `spec/`."""
