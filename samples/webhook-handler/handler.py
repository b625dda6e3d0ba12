"""An ACS chat back end that learns about messages through Event Grid: a plain HTTP webhook.

Written as for Azure Communication Services: nothing in here knows about Hubbub. Behind real Event
Grid (an event subscription on the ACS resource pointing at this endpoint) it runs unchanged;
behind Hubbub, point a subscription at it:

    hubbub subscriptions create chat-backend --endpoint "http://127.0.0.1:7071/api/events?code=$WEBHOOK_CODE"

It answers both handshakes (Event Grid schema: SubscriptionValidationEvent; CloudEvents schema:
the OPTIONS abuse-protection request), checks a shared code in the query string (Event Grid keeps
the endpoint URL's query, so this works on both), and parses every event with azure-eventgrid.

    pip install azure-eventgrid starlette uvicorn
    WEBHOOK_CODE=s3cret python handler.py 7071
"""

from __future__ import annotations

import hmac
import json
import os
import sys

import uvicorn
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridEvent, SystemEventNames
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CODE = os.environ.get("WEBHOOK_CODE", "")


def on_event(event_type: str, data: dict) -> None:
    """The app's own logic: here, print one line per event (a real back end would store, notify, ...)."""
    if event_type == SystemEventNames.AcsChatMessageReceivedEventName:
        recipient = data["recipientCommunicationIdentifier"]["rawId"]
        print(f"to {recipient}: {data['senderDisplayName']} wrote {data['messageBody']!r}", flush=True)
    elif event_type == SystemEventNames.AcsChatMessageReceivedInThreadEventName:
        print(f"in {data['threadId']}: message {data['messageId']}", flush=True)
    elif event_type == SystemEventNames.AcsChatThreadCreatedEventName:
        print(f"thread {data['threadId']} created: {data['properties'].get('topic')!r}", flush=True)
    else:
        print(f"{event_type}: {json.dumps(data)[:120]}", flush=True)


async def events(request: Request) -> Response:
    if CODE and not hmac.compare_digest(request.query_params.get("code", ""), CODE):
        return Response(status_code=401)
    if request.method == "OPTIONS":  # CloudEvents webhook abuse protection
        origin = request.headers.get("WebHook-Request-Origin", "")
        return Response(status_code=200, headers={"WebHook-Allowed-Origin": origin})
    body = await request.json()
    if isinstance(body, dict):  # one structured CloudEvent
        cloud = CloudEvent.from_dict(body)
        on_event(cloud.type, cloud.data)
        return Response(status_code=200)
    for item in body:  # the Event Grid schema: an array of events
        event = EventGridEvent.from_dict(item)
        if event.event_type == SystemEventNames.EventGridSubscriptionValidationEventName:
            return JSONResponse({"validationResponse": event.data["validationCode"]})
        on_event(event.event_type, event.data)
    return Response(status_code=200)


app = Starlette(routes=[Route("/api/events", events, methods=["POST", "OPTIONS"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 7071, log_level="warning")
