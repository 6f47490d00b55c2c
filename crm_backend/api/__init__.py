"""REST API: routers per area, schemas, dependencies and error handlers."""
