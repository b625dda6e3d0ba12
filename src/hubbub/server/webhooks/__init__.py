"""Server-side events: ACS chat events delivered to webhooks, in the Event Grid or CloudEvents schema.

change (rules) ──same transaction──▶ event_outbox row          (store/outbox.py; `Outbox.record`)
                                        │ DeliveryWorker: expand (eventgrid.fan_out, filters)
                                        ▼
                                     event_deliveries row ──lease──▶ POST to the endpoint (delivery.py)
                                        ├─ 2xx: done   ├─ 400/401/403/413, attempts or TTL spent: dead-letter
                                        └─ otherwise: retry, exponential backoff with jitter

docs/webhooks.md describes the guarantees (at least once, no order promised) and the handshakes.
"""
