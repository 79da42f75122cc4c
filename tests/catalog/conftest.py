from support.catalogs import catalog_url, empty_catalog_url

__all__ = ["catalog_url", "empty_catalog_url"]
