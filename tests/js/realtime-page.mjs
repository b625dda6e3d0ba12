// The page of tests/browser/test_realtime.py: the unmodified @azure/communication-chat, bundled
// for the browser with esbuild, listening with startRealtimeNotifications(). Every event is kept
// (Dates as ISO strings) in `window.hubbub.events` for the test to read.
import { ChatClient } from "@azure/communication-chat";
import { AzureCommunicationTokenCredential } from "@azure/communication-common";

const EVENTS = [
  "chatMessageReceived",
  "chatMessageEdited",
  "chatMessageDeleted",
  "typingIndicatorReceived",
  "readReceiptReceived",
  "chatThreadCreated",
  "chatThreadDeleted",
  "chatThreadPropertiesUpdated",
  "participantsAdded",
  "participantsRemoved",
];

const state = { events: [], connection: [], errors: [], started: false };
window.hubbub = state;

window.startRealtime = async (endpoint, token) => {
  const client = new ChatClient(endpoint, new AzureCommunicationTokenCredential(token));
  client.on("realTimeNotificationConnected", () => state.connection.push("connected"));
  client.on("realTimeNotificationDisconnected", () => state.connection.push("disconnected"));
  await client.startRealtimeNotifications();
  for (const name of EVENTS) {
    client.on(name, (event) => state.events.push({ name, event: JSON.parse(JSON.stringify(event)) }));
  }
  state.started = true;
  state.client = client;
};

window.stopRealtime = async () => {
  await state.client.stopRealtimeNotifications();
};
