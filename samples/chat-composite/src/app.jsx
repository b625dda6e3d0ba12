// The ACS UI Library's ChatComposite on a Hubbub server, with no Hubbub-specific code in the chat
// part: `createAzureCommunicationChatAdapter` gets Hubbub's endpoint and a user token, exactly as it
// would get an ACS resource's. Only the setup (two users and a thread) uses Hubbub's simple REST
// gateway (/create_users, /create_thread, /add_user), so the sample needs no backend of its own.
import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { AzureCommunicationTokenCredential } from "@azure/communication-common";
import { ChatComposite, createAzureCommunicationChatAdapter } from "@azure/communication-react";

const DEFAULT_ENDPOINT = "https://127.0.0.1:8443";

async function call(endpoint, path, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(new URL(path, endpoint), { method: "POST", headers, body: JSON.stringify(body ?? {}) });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

// Two users and a thread with both; the caller chats as the first, the invite link is the second.
async function newChat(endpoint, topic) {
  const users = await call(endpoint, "/create_users");
  const { thread_id } = await call(endpoint, "/create_thread", { user1_id: users.user1_id, topic }, users.user1_token);
  await call(endpoint, "/add_user", { thread_id, user2_id: users.user2_id }, users.user1_token);
  const invite = new URLSearchParams({ endpoint, user: users.user2_id, token: users.user2_token, thread: thread_id });
  return {
    session: { endpoint, userId: users.user1_id, token: users.user1_token, threadId: thread_id },
    invite: `${location.origin}${location.pathname}#${invite}`,
  };
}

function sessionFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const [endpoint, userId, token, threadId] = ["endpoint", "user", "token", "thread"].map((k) => params.get(k));
  return endpoint && userId && token && threadId ? { endpoint, userId, token, threadId } : null;
}

function Chat({ session, displayName, invite }) {
  const [adapter, setAdapter] = useState();
  const [error, setError] = useState();
  useEffect(() => {
    let created;
    createAzureCommunicationChatAdapter({
      endpoint: session.endpoint,
      userId: { communicationUserId: session.userId },
      displayName,
      credential: new AzureCommunicationTokenCredential(session.token),
      threadId: session.threadId,
    }).then((a) => setAdapter((created = a)), (e) => setError(String(e)));
    return () => created?.dispose();
  }, [session, displayName]);
  return (
    <div className="chat">
      <header>
        {displayName} in {session.threadId}
        {invite && (
          <>
            {" · "}
            <a href={invite} target="_blank" rel="noreferrer">open as the second user</a>
          </>
        )}
      </header>
      <main>{error ? <p className="error">{error}</p> : adapter ? <ChatComposite adapter={adapter} /> : "Connecting…"}</main>
    </div>
  );
}

function App() {
  const [joined] = useState(sessionFromHash);
  const [endpoint, setEndpoint] = useState(DEFAULT_ENDPOINT);
  const [displayName, setDisplayName] = useState(joined ? "Guest" : "Host");
  const [chat, setChat] = useState(joined ? { session: joined } : null);
  const [error, setError] = useState();
  if (chat) return <Chat session={chat.session} invite={chat.invite} displayName={displayName} />;
  const start = (event) => {
    event.preventDefault();
    newChat(endpoint.replace(/\/+$/, ""), "Hubbub sample").then(setChat, (e) => setError(String(e)));
  };
  return (
    <form className="setup" onSubmit={start}>
      <h1>ChatComposite on Hubbub</h1>
      <label>
        Hubbub endpoint (HTTPS, certificate trusted by this browser)
        <input value={endpoint} onChange={(e) => setEndpoint(e.target.value)} />
      </label>
      <label>
        Your display name
        <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
      </label>
      <button type="submit">Start a new chat</button>
      {error && <p className="error">{error}</p>}
    </form>
  );
}

createRoot(document.getElementById("root")).render(<App />);
