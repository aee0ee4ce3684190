"""mmkg's web side: the REST API under ``/api/v1`` and the workbench pages (``mmkg serve``)."""

from mmkg.web.app import create_app

__all__ = ["create_app"]
