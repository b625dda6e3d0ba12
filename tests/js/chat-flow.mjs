// Drives the official @azure/communication-chat SDK (default api-version 2025-03-15) against a
// Hubbub server and prints what it observed as one JSON object on stdout. The checks live in
// tests/server/test_js_sdk.py; this script only calls the SDK the way an app would.
//
// Input (environment): HUBBUB_ENDPOINT (https), HUBBUB_USERS = JSON [{id, token}, {id, token}, {id, token}].
// NODE_EXTRA_CA_CERTS must name the server's ca.pem.

import { ChatClient } from "@azure/communication-chat";
import { AzureCommunicationTokenCredential } from "@azure/communication-common";

const endpoint = process.env.HUBBUB_ENDPOINT;
const [alice, bob, carol] = JSON.parse(process.env.HUBBUB_USERS);

const client = (user) => new ChatClient(endpoint, new AzureCommunicationTokenCredential(user.token));
const userId = (identifier) => identifier?.communicationUserId ?? identifier?.rawId ?? null;
const iso = (date) => (date instanceof Date ? date.toISOString() : null);

async function collect(iterable) {
  const items = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function pages(pagedIterator, settings) {
  const out = [];
  for await (const page of pagedIterator.byPage(settings)) out.push(page);
  return out;
}

async function errorOf(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return { statusCode: error.statusCode ?? null, code: error.code ?? null, message: String(error.message) };
  }
}

async function main() {
  const out = {};
  const aliceClient = client(alice);

  // create with metadata + retention policy + participant metadata
  const created = await aliceClient.createChatThread(
    { topic: "js topic" },
    {
      participants: [{ id: { communicationUserId: bob.id }, displayName: "Bob", metadata: { role: "guest" } }],
      metadata: { k: "v", k2: "v2" },
      retentionPolicy: { kind: "threadCreationDate", deleteThreadAfterDays: 40 },
    },
  );
  const threadId = created.chatThread.id;
  out.created = {
    id: threadId,
    topic: created.chatThread.topic,
    createdBy: userId(created.chatThread.createdBy),
    createdOn: iso(created.chatThread.createdOn),
    metadata: created.chatThread.metadata ?? null,
    retentionPolicy: created.chatThread.retentionPolicy ?? null,
    invalidParticipants: created.invalidParticipants ?? [],
  };

  const thread = aliceClient.getChatThreadClient(threadId);
  const props = await thread.getProperties();
  out.properties = {
    id: props.id,
    topic: props.topic,
    createdBy: userId(props.createdBy),
    metadata: props.metadata ?? null,
    retentionPolicy: props.retentionPolicy ?? null,
  };

  await thread.updateProperties({
    topic: "js topic 2",
    metadata: { k: "v3" },
    retentionPolicy: { kind: "threadCreationDate", deleteThreadAfterDays: 90 },
  });
  const updated = await thread.getProperties();
  out.updated = { topic: updated.topic, metadata: updated.metadata ?? null, retentionPolicy: updated.retentionPolicy ?? null };
  await thread.updateProperties({ retentionPolicy: { kind: "none" } });
  out.retentionNone = (await thread.getProperties()).retentionPolicy ?? null;
  // as in the SDK's own test "updates the thread retention policy to none ... by setting null"
  await thread.updateProperties({ retentionPolicy: { kind: "threadCreationDate", deleteThreadAfterDays: 30 } });
  await thread.updateProperties({ retentionPolicy: null });
  out.retentionNull = (await thread.getProperties()).retentionPolicy ?? null;
  await thread.updateProperties();
  out.afterEmptyUpdate = (await thread.getProperties()).topic;
  await thread.updateTopic("js topic 3");
  out.topicAfterUpdateTopic = (await thread.getProperties()).topic;

  // participants
  const added = await thread.addParticipants({
    participants: [{ id: { communicationUserId: carol.id }, displayName: "Carol", metadata: { role: "late" } }],
  });
  out.addInvalid = added.invalidParticipants ?? [];
  const participants = await collect(thread.listParticipants());
  out.participants = participants.map((p) => ({ id: userId(p.id), displayName: p.displayName ?? null, metadata: p.metadata ?? null }));
  out.participantPages = (await pages(thread.listParticipants({ maxPageSize: 1 }))).map((page) => page.length);

  // messages
  const sent = [];
  sent.push((await thread.sendMessage({ content: "plain" })).id);
  sent.push((await thread.sendMessage({ content: "<b>rich</b>" }, { senderDisplayName: "Alice", type: "html", metadata: { a: "b" } })).id);
  for (let i = 0; i < 3; i++) sent.push((await thread.sendMessage({ content: `m${i}` })).id);
  out.sent = sent;
  const plain = await thread.getMessage(sent[0]);
  const rich = await thread.getMessage(sent[1]);
  out.plain = { type: plain.type, content: plain.content?.message ?? null, sender: userId(plain.sender), version: plain.version };
  out.rich = { type: rich.type, content: rich.content?.message ?? null, senderDisplayName: rich.senderDisplayName ?? null, metadata: rich.metadata ?? null };

  await thread.updateMessage(sent[0], { content: "plain, edited", metadata: { x: "y" } });
  const edited = await thread.getMessage(sent[0]);
  out.edited = { content: edited.content?.message ?? null, editedOn: iso(edited.editedOn), version: edited.version, metadata: edited.metadata ?? null };
  await thread.deleteMessage(sent[2]);

  const messages = await collect(thread.listMessages());
  out.messages = messages.map((m) => ({
    id: m.id,
    type: m.type,
    sequenceId: m.sequenceId,
    content: m.content?.message ?? null,
    topic: m.content?.topic ?? null,
    participants: (m.content?.participants ?? []).map((p) => ({ id: userId(p.id), metadata: p.metadata ?? null })),
    deletedOn: iso(m.deletedOn),
  }));
  const messagePages = await pages(thread.listMessages({ maxPageSize: 2 }));
  out.messagePages = messagePages.map((page) => page.map((m) => m.id));

  // resume from a continuation token
  // (the SDK keeps the nextLink in the settings object it was given)
  const pageSettings = {};
  const iterator = thread.listMessages({ maxPageSize: 2 }).byPage(pageSettings);
  const first = await iterator.next();
  out.firstPage = first.value.map((m) => m.id);
  out.continuationToken = pageSettings.continuationToken ?? null;
  if (out.continuationToken) {
    const resumed = await pages(thread.listMessages({ maxPageSize: 2 }), { continuationToken: out.continuationToken });
    out.resumed = resumed.flat().map((m) => m.id);
  }

  // typing + read receipts
  out.typing = await thread.sendTypingNotification({ senderDisplayName: "Alice" });
  const bobThread = client(bob).getChatThreadClient(threadId);
  out.bobTyping = await bobThread.sendTypingNotification();
  await thread.sendReadReceipt({ chatMessageId: sent[3] });
  await thread.sendReadReceipt({ chatMessageId: sent[4] });
  await bobThread.sendReadReceipt({ chatMessageId: sent[3] });
  const receipts = await collect(bobThread.listReadReceipts({ maxPageSize: 1 }));
  out.receipts = receipts.map((r) => ({ sender: userId(r.sender), chatMessageId: r.chatMessageId, readOn: iso(r.readOn) }));

  // remove + authorisation
  await thread.removeParticipant({ communicationUserId: carol.id });
  out.afterRemove = (await collect(thread.listParticipants())).map((p) => userId(p.id));
  out.carolSendError = await errorOf(client(carol).getChatThreadClient(threadId).sendMessage({ content: "still here?" }));
  out.bobEditError = await errorOf(bobThread.updateMessage(sent[1], { content: "not mine" }));

  // thread list paging (alice has this thread plus two more)
  const extra = [];
  for (let i = 0; i < 2; i++) extra.push((await aliceClient.createChatThread({ topic: `extra ${i}` })).chatThread.id);
  const threadPages = await pages(aliceClient.listChatThreads({ maxPageSize: 1 }));
  out.threadPages = threadPages.map((page) => page.map((t) => t.id));
  out.extraThreads = extra;

  await aliceClient.deleteChatThread(extra[0]);
  await aliceClient.deleteChatThread(extra[0]);
  out.deletedGetError = await errorOf(aliceClient.getChatThreadClient(extra[0]).sendMessage({ content: "x" }));
  return out;
}

main().then(
  (out) => {
    process.stdout.write(JSON.stringify(out) + "\n");
  },
  (error) => {
    process.stdout.write(
      JSON.stringify({ fatal: { message: String(error?.message ?? error), statusCode: error?.statusCode ?? null, stack: String(error?.stack ?? "") } }) + "\n",
    );
    process.exitCode = 1;
  },
);
