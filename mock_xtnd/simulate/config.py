"""The back office's rates and delays (chosen by the mock). Kept free of runtime imports so the settings model
can embed it as ``simulation:`` (YAML, snake_case keys)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SimulationSettings(BaseModel):
    """Rates are expected events per simulated hour; delays are seconds, each jittered by +-``jitter``."""

    model_config = ConfigDict(extra="forbid")

    tick_seconds: float = Field(default=60.0, gt=0, description="One simulation round every this many seconds.")
    jitter: float = Field(default=0.25, ge=0, lt=1, description="Delays vary uniformly by this fraction either way.")

    # order lifecycle (every order, the webshop's and the back office's)
    reserve_after_seconds: float = Field(default=120.0, ge=0, description="Created -> Reserved (picking starts).")
    pick_after_seconds: float = Field(default=600.0, ge=0, description="Created -> picked (shipped, invoiced).")
    repick_after_seconds: float = Field(default=3600.0, gt=0, description="An order short of stock (nothing on "
                                        "hand, or PartiallyDelivered) is picked again this long after.")
    cancel_share: float = Field(default=0.05, ge=0, le=1, description="Share of orders the back office cancels.")
    delivery_date_share: float = Field(default=0.10, ge=0, le=1, description="Share of orders whose date moves.")
    invoice_change_share: float = Field(default=0.20, ge=0, le=1, description="Share of invoices changed later.")
    invoice_change_after_seconds: float = Field(default=3600.0, ge=0)

    # what happens in XTND on its own
    orders_per_hour: float = Field(default=4.0, ge=0, description="Orders entered in XTND (phone, EDI).")
    customers_per_hour: float = Field(default=0.5, ge=0, description="Customers registered in XTND.")
    customer_edits_per_hour: float = Field(default=2.0, ge=0)
    products_per_hour: float = Field(default=0.25, ge=0, description="New articles.")
    product_edits_per_hour: float = Field(default=3.0, ge=0, description="Name, description, weight or base price.")
    price_edits_per_hour: float = Field(default=2.0, ge=0, description="Customer price-list entries (no hook).")
    purchases_per_hour: float = Field(default=2.0, ge=0, description="Purchase orders placed with suppliers.")
    purchase_lead_seconds: float = Field(default=7200.0, ge=0, description="Order to first arrival.")
    purchase_partial_share: float = Field(default=0.3, ge=0, le=1, description="Arrive in two parts.")
    purchase_cancel_share: float = Field(default=0.1, ge=0, le=1)
    channel_sales_per_hour: float = Field(default=30.0, ge=0, description="Other sales channels (store, marketplace).")
    channel_ship_after_seconds: float = Field(default=900.0, ge=0, description="Other channel: reservation to shipment.")
    offers_per_hour: float = Field(default=1.0, ge=0)
    offer_changes_per_hour: float = Field(default=1.0, ge=0)
    return_share: float = Field(default=0.05, ge=0, le=1, description="Share of delivered orders partly returned.")
    return_after_seconds: float = Field(default=86400.0, ge=0, description="Delivery to the return being registered.")
    return_receive_after_seconds: float = Field(default=7200.0, ge=0, description="Registered to received.")
