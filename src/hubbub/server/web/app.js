// Hubbub chat page: talks to the ACS Chat REST API of this server with fetch + Bearer token, and
// receives live events from GET /chat/events (Server-Sent Events). No build step, no dependencies.
"use strict";

const API_VERSION = "2024-03-07";
const PAGE_SIZE = 30;
const TYPING_SEND_EVERY_MS = 8000;
const TYPING_SHOW_MS = 9000;
const $ = (id) => document.getElementById(id);

const state = {
  token: null, userId: null, threadId: null, nextLink: null,
  messages: new Map(),        // id -> {data, el} for the open thread
  typing: new Map(),          // sender rawId -> {name, timer}
  readBy: new Map(),          // reader rawId -> latest message id they read (open thread)
  lastTypingSent: 0, lastReceiptSent: null, events: null,
};

// -- helpers ---------------------------------------------------------------------------------------

function claims(token) {
  const part = token.split(".")[1];
  if (!part) throw new Error("not a JWT");
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(b64 + "===".slice((b64.length + 3) % 4)));
}

function shortId(rawId) {
  const tail = (rawId || "").split("_").pop();
  return tail ? tail.slice(0, 8) : "someone";
}

function toast(text) {
  const el = $("toast");
  el.textContent = text;
  el.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove("show"), 2500);
}

function displayName() { return $("display-name").value.trim(); }

function htmlToText(html) {
  return new DOMParser().parseFromString(html, "text/html").body.textContent || "";
}

function idNumber(id) { try { return BigInt(id); } catch { return 0n; } }

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body, contentType = "application/json") {
  const url = new URL(path, location.origin);
  if (!url.searchParams.has("api-version")) url.searchParams.set("api-version", API_VERSION);
  const init = { method, headers: { Authorization: `Bearer ${state.token}` } };
  if (body !== undefined) {
    init.headers["Content-Type"] = contentType;
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const message = (data && data.error && (data.error.message || data.error)) || response.statusText;
    if (response.status === 401) signOut("Your access token is no longer valid.");
    throw new ApiError(response.status, message);
  }
  return data;
}

const threadPath = (id, rest = "") => `/chat/threads/${encodeURIComponent(id)}${rest}`;

// -- identity --------------------------------------------------------------------------------------

function signIn(token) {
  const payload = claims(token);
  if (!payload.skypeid) throw new Error("This token does not name a user.");
  if (payload.exp && payload.exp * 1000 < Date.now()) throw new Error("This token has expired.");
  state.token = token;
  state.userId = "8:" + payload.skypeid;
  localStorage.setItem("hubbub.token", token);
  $("sign-in").hidden = true;
  $("chat").hidden = false;
  $("me").hidden = false;
  $("display-name").value = localStorage.getItem("hubbub.name") || "";
  document.body.dataset.userId = state.userId;
  connectEvents();
  loadThreads().catch((e) => toast(e.message));
  openFromHash();
}

function signOut(message) {
  localStorage.removeItem("hubbub.token");
  if (state.events) state.events.close();
  Object.assign(state, { token: null, userId: null, threadId: null, events: null });
  setStatus(false);
  $("chat").hidden = true;
  $("me").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message || "";
}

async function newIdentity() {
  $("sign-in-error").textContent = "";
  const response = await fetch("/gateway/identity", { method: "POST" });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || response.statusText);
  signIn(data.token);
}

// -- threads ---------------------------------------------------------------------------------------

async function loadThreads() {
  const data = await api("GET", `/chat/threads?maxPageSize=50`);
  const list = $("threads");
  list.replaceChildren();
  for (const thread of data.value || []) {
    if (thread.deletedOn) continue;
    const li = document.createElement("li");
    li.dataset.threadId = thread.id;
    li.textContent = thread.topic || "(no topic)";
    const small = document.createElement("small");
    small.textContent = thread.lastMessageReceivedOn ? new Date(thread.lastMessageReceivedOn).toLocaleString() : "";
    li.append(small);
    li.classList.toggle("active", thread.id === state.threadId);
    li.addEventListener("click", () => openThread(thread.id));
    list.append(li);
  }
}

async function createThread(topic) {
  const data = await api("POST", "/chat/threads", { topic: topic || "Chat", participants: [] });
  await loadThreads();
  await openThread(data.chatThread.id);
}

async function addPerson(rawId) {
  if (!rawId.startsWith("8:")) throw new Error("A user id starts with 8:");
  const data = await api("POST", threadPath(state.threadId, "/participants/:add"), {
    participants: [{ communicationIdentifier: { rawId, communicationUser: { id: rawId } } }],
  });
  const failed = (data && data.invalidParticipants) || [];
  if (failed.length) throw new Error(failed[0].message || "Could not add this person.");
  toast("Added.");
}

function threadIdFrom(text) {
  const value = text.trim();
  const match = value.match(/#thread=([^&]+)/);
  return match ? decodeURIComponent(match[1]) : value;
}

function openFromHash() {
  const match = location.hash.match(/thread=([^&]+)/);
  if (match && state.token) openThread(decodeURIComponent(match[1])).catch((e) => toast(e.message));
}

async function openThread(threadId) {
  const thread = await api("GET", threadPath(threadId));
  state.threadId = threadId;
  state.messages.clear();
  state.readBy.clear();
  state.lastReceiptSent = null;
  for (const entry of state.typing.values()) clearTimeout(entry.timer);
  state.typing.clear();
  renderTyping();
  const wanted = `#thread=${encodeURIComponent(threadId)}`;
  if (location.hash !== wanted) history.replaceState(null, "", wanted);
  $("thread-topic").textContent = thread.topic || "(no topic)";
  $("no-thread").hidden = true;
  $("thread").hidden = false;
  $("chat").classList.add("in-thread");
  $("thread").dataset.threadId = threadId;
  for (const li of $("threads").children) li.classList.toggle("active", li.dataset.threadId === threadId);
  $("messages").replaceChildren();
  state.nextLink = threadPath(threadId, `/messages?maxPageSize=${PAGE_SIZE}`);
  await loadOlder();
  scrollToBottom();
  await loadReceipts();
  sendReceipt();
}

// -- search (Hubbub's extension: GET /chat/messages:search, docs/search.md) -------------------------

const ENTITIES = { "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'", "&amp;": "&" };
const unescapeText = (text) => text.replace(/&(?:lt|gt|quot|#x27|#39|amp);/g, (entity) => ENTITIES[entity]);

// A snippet is html-escaped text whose matched words are in <mark>...</mark>. It is never inserted
// as HTML: the marks are split out, the rest is unescaped to plain text and added as text nodes.
function snippetNodes(snippet) {
  const nodes = [];
  snippet.split(/(<mark>[\s\S]*?<\/mark>)/).forEach((part) => {
    const marked = part.startsWith("<mark>") && part.endsWith("</mark>");
    const text = unescapeText(marked ? part.slice(6, -7) : part);
    if (!text) return;
    if (marked) {
      const mark = document.createElement("mark");
      mark.textContent = text;
      nodes.push(mark);
    } else {
      nodes.push(document.createTextNode(text));
    }
  });
  return nodes;
}

function threadTopic(threadId) {
  for (const li of $("threads").children) {
    if (li.dataset.threadId === threadId) return li.firstChild ? li.firstChild.textContent : "";
  }
  return "a thread you left";
}

async function searchMessages(query) {
  const data = await api("GET", `/chat/messages:search?maxPageSize=20&q=${encodeURIComponent(query)}`);
  const list = $("search-results");
  list.replaceChildren();
  for (const result of data.value || []) {
    const li = document.createElement("li");
    li.dataset.threadId = result.chatThreadId;
    li.dataset.messageId = result.message.id;
    const meta = document.createElement("small");
    const sender = result.message.senderDisplayName || shortId(result.message.senderCommunicationIdentifier?.rawId);
    meta.textContent = `${sender} in ${threadTopic(result.chatThreadId)} · ${new Date(result.message.createdOn).toLocaleString()}`;
    const text = document.createElement("div");
    text.className = "snippet";
    text.append(...snippetNodes(result.snippet || ""));
    li.append(text, meta);
    li.addEventListener("click", () => openThread(result.chatThreadId).catch((e) => toast(e.message)));
    list.append(li);
  }
  if (!list.children.length) {
    const li = document.createElement("li");
    li.className = "none";
    li.textContent = "No messages found.";
    list.append(li);
  }
  $("search-pane").hidden = false;
}

// -- messages --------------------------------------------------------------------------------------

async function loadOlder() {
  if (!state.nextLink) return;
  const threadId = state.threadId;
  const scroller = $("messages-scroll");
  const before = scroller.scrollHeight - scroller.scrollTop;
  const data = await api("GET", state.nextLink);
  if (threadId !== state.threadId) return;
  state.nextLink = data.nextLink || null;
  for (const message of data.value || []) addMessage(fromWire(message), { prepend: true });
  $("older").hidden = !state.nextLink;
  scroller.scrollTop = scroller.scrollHeight - before;
}

function fromWire(m) {
  return {
    id: m.id, type: m.type, createdOn: m.createdOn, editedOn: m.editedOn, deletedOn: m.deletedOn,
    sender: m.senderCommunicationIdentifier ? m.senderCommunicationIdentifier.rawId : null,
    senderDisplayName: m.senderDisplayName || "",
    content: m.content ? (m.type === "html" ? htmlToText(m.content.message || "") : m.content.message || "") : "",
    system: m.content && m.type.startsWith("participant") ? m.content.participants : null,
    topic: m.content ? m.content.topic : null,
  };
}

function fromEvent(d) {
  return {
    id: d.id, type: d.type, createdOn: d.createdOn, editedOn: d.editedOn, deletedOn: d.deletedOn,
    sender: d.sender ? d.sender.rawId : null, senderDisplayName: d.senderDisplayName || "",
    content: d.type === "html" ? htmlToText(d.message || "") : d.message || "",
  };
}

function systemText(m) {
  const names = (list) => (list || []).map((p) => p.displayName || shortId(p.communicationIdentifier && p.communicationIdentifier.rawId)).join(", ");
  if (m.type === "participantAdded") return `${names(m.system)} joined`;
  if (m.type === "participantRemoved") return `${names(m.system)} left`;
  if (m.type === "topicUpdated") return `Topic changed to “${m.topic || ""}”`;
  return null;
}

function addMessage(m, { prepend = false } = {}) {
  if (m.deletedOn || state.messages.has(m.id)) return;
  const chat = m.type === "text" || m.type === "html";
  const text = chat ? m.content : systemText(m);
  if (text === null) return;
  const mine = m.sender === state.userId;
  const li = document.createElement("li");
  li.className = `msg ${chat ? (mine ? "mine" : "theirs") : "system"}`;
  li.dataset.id = m.id;
  if (chat) {
    const meta = document.createElement("div");
    meta.className = "meta";
    const who = mine ? "You" : m.senderDisplayName || shortId(m.sender);
    meta.textContent = `${who} · ${new Date(m.createdOn).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
    li.append(meta);
  }
  const body = document.createElement("div");
  body.className = "body";
  body.textContent = text;
  li.append(body);
  if (chat) {
    const edited = document.createElement("div");
    edited.className = "edited";
    edited.textContent = m.editedOn ? "edited" : "";
    li.append(edited);
  }
  if (chat && mine) {
    const actions = document.createElement("div");
    actions.className = "actions";
    const edit = document.createElement("button");
    edit.textContent = "Edit";
    edit.className = "edit";
    edit.addEventListener("click", () => startEdit(m.id));
    const del = document.createElement("button");
    del.textContent = "Delete";
    del.className = "delete";
    del.addEventListener("click", () => deleteMessage(m.id).catch((e) => toast(e.message)));
    actions.append(edit, del);
    li.append(actions);
  }
  state.messages.set(m.id, { data: m, el: li });
  const list = $("messages");
  // Keep DOM order by message id (ids grow with time), whether prepending history or appending live.
  let anchor = null;
  const key = idNumber(m.id);
  const children = prepend ? Array.from(list.children) : Array.from(list.children).reverse();
  if (prepend) {
    anchor = children.find((el) => idNumber(el.dataset.id) > key) || null;
  } else {
    const after = children.find((el) => idNumber(el.dataset.id) < key);
    anchor = after ? after.nextSibling : list.firstChild;
  }
  list.insertBefore(li, anchor);
  renderSeen();
}

async function sendMessage(text) {
  const body = { content: text, type: "text" };
  if (displayName()) body.senderDisplayName = displayName();
  const threadId = state.threadId;
  const data = await api("POST", threadPath(threadId, "/messages"), body);
  if (threadId !== state.threadId) return;
  const near = nearBottom();
  addMessage({
    id: data.id, type: "text", createdOn: new Date().toISOString(), sender: state.userId,
    senderDisplayName: displayName(), content: text,
  });
  if (near) scrollToBottom();
  state.lastTypingSent = 0;
}

function startEdit(id) {
  const entry = state.messages.get(id);
  if (!entry || entry.el.querySelector(".edit-form")) return;
  const form = document.createElement("form");
  form.className = "edit-form";
  const input = document.createElement("input");
  input.value = entry.data.content;
  input.setAttribute("aria-label", "Edit message");
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  form.append(input, save, cancel);
  const body = entry.el.querySelector(".body");
  body.hidden = true;
  body.after(form);
  input.focus();
  cancel.addEventListener("click", () => { form.remove(); body.hidden = false; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    try {
      await api("PATCH", threadPath(state.threadId, `/messages/${encodeURIComponent(id)}`), { content: text },
        "application/merge-patch+json");
      form.remove();
      body.hidden = false;
      applyEdit({ id, content: text, editedOn: new Date().toISOString() });
    } catch (e) { toast(e.message); }
  });
}

function applyEdit(m) {
  const entry = state.messages.get(m.id);
  if (!entry) return;
  entry.data.content = m.content;
  entry.el.querySelector(".body").textContent = m.content;
  const edited = entry.el.querySelector(".edited");
  if (edited) edited.textContent = "edited";
}

function applyDelete(id) {
  const entry = state.messages.get(id);
  if (!entry) return;
  entry.el.remove();
  state.messages.delete(id);
  renderSeen();
}

async function deleteMessage(id) {
  await api("DELETE", threadPath(state.threadId, `/messages/${encodeURIComponent(id)}`));
  applyDelete(id);
}

function nearBottom() {
  const s = $("messages-scroll");
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

function scrollToBottom() {
  const s = $("messages-scroll");
  s.scrollTop = s.scrollHeight;
}

// -- typing and read receipts ----------------------------------------------------------------------

function sendTyping() {
  if (!state.threadId || Date.now() - state.lastTypingSent < TYPING_SEND_EVERY_MS) return;
  state.lastTypingSent = Date.now();
  const body = displayName() ? { senderDisplayName: displayName() } : {};
  api("POST", threadPath(state.threadId, "/typing"), body).catch(() => {});
}

function showTyping(rawId, name) {
  const old = state.typing.get(rawId);
  if (old) clearTimeout(old.timer);
  const timer = setTimeout(() => { state.typing.delete(rawId); renderTyping(); }, TYPING_SHOW_MS);
  state.typing.set(rawId, { name: name || shortId(rawId), timer });
  renderTyping();
}

function stopTyping(rawId) {
  const old = state.typing.get(rawId);
  if (!old) return;
  clearTimeout(old.timer);
  state.typing.delete(rawId);
  renderTyping();
}

function renderTyping() {
  const names = Array.from(state.typing.values(), (t) => t.name);
  $("typing").textContent = names.length === 0 ? "" :
    names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
}

function sendReceipt() {
  if (!state.threadId || document.visibilityState === "hidden") return;
  let latest = null;
  for (const { data } of state.messages.values()) {
    if (data.sender && data.sender !== state.userId && (data.type === "text" || data.type === "html")) {
      if (latest === null || idNumber(data.id) > idNumber(latest)) latest = data.id;
    }
  }
  if (latest === null || latest === state.lastReceiptSent) return;
  state.lastReceiptSent = latest;
  api("POST", threadPath(state.threadId, "/readReceipts"), { chatMessageId: latest }).catch(() => {});
}

async function loadReceipts() {
  const data = await api("GET", threadPath(state.threadId, "/readReceipts?maxPageSize=200"));
  for (const r of data.value || []) noteReceipt(r.senderCommunicationIdentifier.rawId, r.chatMessageId);
}

function noteReceipt(reader, messageId) {
  if (reader === state.userId) return;
  const old = state.readBy.get(reader);
  if (!old || idNumber(messageId) > idNumber(old)) state.readBy.set(reader, messageId);
  renderSeen();
}

// "Seen" goes under my latest message that someone else has read up to.
function renderSeen() {
  for (const el of document.querySelectorAll(".msg .seen")) el.remove();
  let readUpTo = -1n;
  for (const id of state.readBy.values()) if (idNumber(id) > readUpTo) readUpTo = idNumber(id);
  if (readUpTo < 0n) return;
  const mine = Array.from(document.querySelectorAll(".msg.mine")).filter((el) => idNumber(el.dataset.id) <= readUpTo);
  const last = mine[mine.length - 1];
  if (!last) return;
  const seen = document.createElement("div");
  seen.className = "seen";
  seen.textContent = "Seen";
  last.append(seen);
}

// -- real-time events ------------------------------------------------------------------------------

function setStatus(live) {
  $("status").textContent = live ? "live" : "offline";
  $("status").classList.toggle("live", live);
}

function connectEvents() {
  if (state.events) state.events.close();
  const source = new EventSource(`/chat/events?access_token=${encodeURIComponent(state.token)}`);
  state.events = source;
  source.onopen = () => setStatus(true);
  source.onerror = () => setStatus(source.readyState === EventSource.OPEN);
  const on = (type, handler) => source.addEventListener(type, (event) => {
    try { handler(JSON.parse(event.data).data || {}); } catch (e) { console.error(type, e); }
  });
  on("connected", () => setStatus(true));
  on("disconnect", (d) => {
    const ended = {
      tokenExpired: "Your access token has expired.",
      tokenRevoked: "Your access token has been revoked.",
      identityDeleted: "Your identity has been deleted.",
    }[d.reason];
    if (ended) { source.close(); signOut(ended); }
  });
  on("resyncRequired", () => { loadThreads(); if (state.threadId) openThread(state.threadId); });
  on("chatMessageReceived", (d) => {
    loadThreadsSoon();
    if (d.threadId !== state.threadId) return;
    const near = nearBottom();
    const m = fromEvent(d);
    stopTyping(m.sender);
    addMessage(m);
    if (near) scrollToBottom();
    sendReceipt();
  });
  on("chatMessageEdited", (d) => { if (d.threadId === state.threadId) applyEdit(fromEvent(d)); });
  on("chatMessageDeleted", (d) => { if (d.threadId === state.threadId) applyDelete(d.id); });
  on("typingIndicatorReceived", (d) => {
    if (d.threadId === state.threadId && d.sender && d.sender.rawId !== state.userId) {
      showTyping(d.sender.rawId, d.senderDisplayName);
    }
  });
  on("readReceiptReceived", (d) => {
    if (d.threadId === state.threadId && d.sender) noteReceipt(d.sender.rawId, d.chatMessageId);
  });
  for (const type of ["participantsAdded", "participantsRemoved", "chatThreadCreated", "chatThreadDeleted",
    "chatThreadPropertiesUpdated"]) {
    on(type, (d) => {
      loadThreadsSoon();
      if (type === "chatThreadPropertiesUpdated" && d.threadId === state.threadId && d.properties) {
        $("thread-topic").textContent = d.properties.topic || "(no topic)";
      }
    });
  }
}

function loadThreadsSoon() {
  clearTimeout(loadThreadsSoon.timer);
  loadThreadsSoon.timer = setTimeout(() => loadThreads().catch(() => {}), 300);
}

// -- wiring ----------------------------------------------------------------------------------------

function guard(handler) {
  return (event) => {
    if (event && event.preventDefault) event.preventDefault();
    Promise.resolve(handler(event)).catch((e) => toast(e.message));
  };
}

document.addEventListener("DOMContentLoaded", () => {
  $("new-identity").addEventListener("click", () => newIdentity().catch((e) => {
    $("sign-in-error").textContent = e.message;
  }));
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    try { signIn($("token-input").value.trim()); } catch (e) {
      $("sign-in-error").textContent = `That does not look like an access token (${e.message}).`;
    }
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("copy-id").addEventListener("click", () => {
    navigator.clipboard.writeText(state.userId).then(() => toast("Your id is copied."), () => toast(state.userId));
  });
  $("display-name").addEventListener("change", () => localStorage.setItem("hubbub.name", displayName()));
  $("new-thread").addEventListener("submit", guard(async () => {
    await createThread($("new-thread-topic").value.trim());
    $("new-thread-topic").value = "";
  }));
  $("open-thread").addEventListener("submit", guard(async () => {
    await openThread(threadIdFrom($("open-thread-id").value));
    $("open-thread-id").value = "";
  }));
  $("add-person").addEventListener("submit", guard(async () => {
    await addPerson($("add-person-id").value.trim());
    $("add-person-id").value = "";
  }));
  $("copy-link").addEventListener("click", () => {
    const link = `${location.origin}/#thread=${encodeURIComponent(state.threadId)}`;
    navigator.clipboard.writeText(link).then(() => toast("Link copied."), () => toast(link));
  });
  $("back").addEventListener("click", () => $("chat").classList.remove("in-thread"));
  $("search").addEventListener("submit", guard(async () => {
    const query = $("search-query").value.trim();
    if (query) await searchMessages(query);
  }));
  $("search-close").addEventListener("click", () => { $("search-pane").hidden = true; });
  $("older").addEventListener("click", guard(loadOlder));
  $("messages-scroll").addEventListener("scroll", () => {
    if ($("messages-scroll").scrollTop === 0 && state.nextLink && !loadOlder.busy) {
      loadOlder.busy = true;
      loadOlder().catch((e) => toast(e.message)).finally(() => { loadOlder.busy = false; });
    }
  });
  const compose = $("compose");
  compose.addEventListener("input", () => { if (compose.value.trim()) sendTyping(); });
  compose.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("composer").requestSubmit(); }
  });
  $("composer").addEventListener("submit", guard(async () => {
    const text = compose.value.trim();
    if (!text || !state.threadId) return;
    compose.value = "";
    await sendMessage(text);
  }));
  document.addEventListener("visibilitychange", sendReceipt);
  window.addEventListener("hashchange", openFromHash);

  const saved = localStorage.getItem("hubbub.token");
  if (saved) {
    try { signIn(saved); return; } catch { localStorage.removeItem("hubbub.token"); }
  }
  signOut();
});
