"""mock-xtnd: an offline, stateful fake of the XTND ERP/WMS REST API and its signed webhooks."""

__version__ = "0.1.0"
