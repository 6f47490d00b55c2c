"""The REST API's routers, one module per area, mounted under ``/api/v1`` by ``crm_backend.app.create_app``
(``dev`` only in development). Their dependencies are the aliases of ``crm_backend.api.deps``."""
