"""A project's routes: templates imported from OpenAPI documents, parameters learned from
cardinality, endpoints merged when routing changes, and the list the routes page shows."""
