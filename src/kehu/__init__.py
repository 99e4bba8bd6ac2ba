"""Kehu (客户): an open-source CRM for Chinese SME sales, service and marketing teams."""

__version__ = "0.1.0"
