"""Shopify Flow: triggers sent with flowTriggerReceive; action requests are verified in signatures.py."""

from __future__ import annotations

from typing import Any

from app.shopify.pacing import CostPacer, paced_execute


def send_trigger(client: Any, pacer: CostPacer, handle: str, payload: dict[str, Any]) -> None:
    """Start the shop's workflows that begin with trigger `handle`; raises a ShopifyError when refused.

    The payload's keys are the trigger extension's field keys, its customer reference as `customer_id`
    (https://shopify.dev/docs/apps/build/flow/triggers/reference). `body` is deprecated in 2026-07: the
    document sends `handle` and `payload` only.
    """
    paced_execute(client, pacer, "flow_trigger_receive", {"handle": handle, "payload": payload})
