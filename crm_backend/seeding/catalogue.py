"""The fixed product catalogue (same for every seed): (sku, name, category, price in pence)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.db import Product

CATALOGUE: list[tuple[str, str, str, int]] = [
    ("KIT-001", "Espresso Machine", "kitchen", 14900),
    ("KIT-002", "Stainless Steel Kettle", "kitchen", 3999),
    ("KIT-003", "Air Fryer 5L", "kitchen", 8999),
    ("KIT-004", "Stand Mixer", "kitchen", 21000),
    ("KIT-005", "Ceramic Mug Set (4)", "kitchen", 2499),
    ("KIT-006", "Chef's Knife 20cm", "kitchen", 4500),
    ("KIT-007", "Non-stick Frying Pan 28cm", "kitchen", 2999),
    ("HOM-001", "Cotton Bath Towel Set", "home", 3250),
    ("HOM-002", "Scented Candle", "home", 1999),
    ("HOM-003", "LED Desk Lamp", "home", 5200),
    ("HOM-004", "Wool Throw Blanket", "home", 4999),
    ("HOM-005", "Photo Frame Set", "home", 1850),
    ("HOM-006", "Memory Foam Pillow", "home", 2799),
    ("ELE-001", "Wireless Headphones", "electronics", 5499),
    ("ELE-002", "Bluetooth Speaker", "electronics", 3999),
    ("ELE-003", "Smart Watch", "electronics", 12000),
    ("ELE-004", "USB-C Charger 65W", "electronics", 2499),
    ("ELE-005", "E-reader", "electronics", 10999),
    ("ELE-006", "Power Bank 20000mAh", "electronics", 3499),
    ("CLO-001", "Running Shoes", "clothing", 6490),
    ("CLO-002", "Winter Jacket", "clothing", 8950),
    ("CLO-003", "Summer Dress", "clothing", 5999),
    ("CLO-004", "Merino Jumper", "clothing", 6999),
    ("CLO-005", "Cotton T-shirt", "clothing", 1500),
    ("CLO-006", "Leather Belt", "clothing", 2200),
    ("GAR-001", "Folding Garden Chair", "garden", 2250),
    ("GAR-002", "Hose Reel 30m", "garden", 3799),
    ("GAR-003", "Solar Lights (10)", "garden", 1999),
    ("GAR-004", "Raised Planter", "garden", 7499),
    ("TOY-001", "Family Board Game", "toys", 2500),
    ("TOY-002", "Building Blocks Set", "toys", 4999),
    ("TOY-003", "Jigsaw Puzzle 1000pc", "toys", 1499),
    ("SPO-001", "Yoga Mat", "sports", 2500),
    ("SPO-002", "Adjustable Dumbbells", "sports", 11999),
    ("SPO-003", "Water Bottle 1L", "sports", 1299),
    ("BEA-001", "Skincare Gift Set", "beauty", 3500),
    ("BEA-002", "Hair Dryer", "beauty", 4999),
]


def ensure_catalogue(*, session: Session) -> None:
    """Insert missing products (idempotent by SKU)."""
    existing = set(session.execute(select(Product.sku)).scalars())
    for sku, name, category, price in CATALOGUE:
        if sku not in existing:
            session.add(Product(sku=sku, name=name, category=category, price_pence=price))
    session.flush()
