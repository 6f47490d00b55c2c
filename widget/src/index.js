// ShopCare web chat widget: Rasa's socket.io channel with session persistence, in one script tag.
//
//   <script>window.ShopCareChat = { socketUrl: "https://bot.example.com", title: "ShopCare" };</script>
//   <script src="https://crm.example.com/widget/shopcare-widget.js" defer></script>
//
// or, after the script has loaded, ShopCareChat.init({...}). See docs/widget.md for every option.
import { io } from "socket.io-client";
import { createStore } from "./store.js";
import { createView } from "./view.js";

const DEFAULTS = {
  socketUrl: "",
  socketPath: "/socket.io",
  title: "Customer service",
  subtitle: "",
  welcome: "",
  launcherLabel: "Chat with us",
  accentColor: "#1f3b6f",
  position: "right",
  storageKey: "shopcare-chat",
  maxHistory: 200,
  maxLength: 1000,
  typingTimeoutMs: 6000,
  customData: null,
  identityToken: "", // a shop login: the JWT the shop signed for its logged-in customer (docs/widget.md)
};

// Rasa's socketio output: {text}, {text, quick_replies: [{title, payload}]}, {attachment: {type: "image", ...}};
// channels/socketio.py adds {sender: "agent", agent_name} to a person's message.
function fromBot(data) {
  if (!data || typeof data !== "object") return null;
  const message = { from: data.sender === "agent" ? "agent" : "bot", text: typeof data.text === "string" ? data.text : "" };
  if (message.from === "agent") message.agentName = String(data.agent_name || "");
  const replies = data.quick_replies || data.buttons;
  if (Array.isArray(replies) && replies.length) {
    message.buttons = replies
      .filter((r) => r && typeof r.title === "string")
      .map((r) => ({ title: r.title, payload: typeof r.payload === "string" ? r.payload : r.title }));
  }
  const attachment = data.attachment;
  if (attachment && attachment.type === "image" && attachment.payload && typeof attachment.payload.src === "string") {
    message.image = attachment.payload.src;
  }
  return message.text || message.image ? message : null;
}

// A short, stable tag of the token's e-mail (read, not verified: the assistant's CRM verifies the token).
function tokenSubject(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const email = String(JSON.parse(atob(part)).email || "");
    let hash = 0;
    for (let i = 0; i < email.length; i += 1) hash = (hash * 31 + email.charCodeAt(i)) | 0;
    return (hash >>> 0).toString(36);
  } catch (_) {
    return "token";
  }
}

function start(options) {
  const config = { ...DEFAULTS, ...options };
  if (!config.socketUrl) throw new Error("ShopCareChat: socketUrl is required");
  // a logged-in customer gets a conversation of their own: another login on the same browser starts afresh
  const who = config.identityToken ? `:${tokenSubject(config.identityToken)}` : "";
  const store = createStore(`${config.storageKey}:${config.socketUrl}${who}`, config.maxHistory);
  const outbox = []; // messages typed while the connection is down: sent once the session is confirmed again
  let socket = null;
  let ready = false; // connected and in the conversation's room
  let everConnected = false;
  const items = new Map(); // message object -> its <li>, for quick replies and pending marks

  const view = createView(config, {
    onOpen: (focus) => open(focus),
    onClose: () => {
      view.close();
      store.setOpen(false);
    },
    onSend: (text) => say(text, text),
    onReply: (message, button) => {
      message.buttons = undefined; // answered: not shown again after a reload
      store.update();
      view.removeReplies(items.get(message));
      say(button.title, button.payload);
    },
  });
  document.body.append(view.host);
  for (const message of store.get().messages) items.set(message, view.add(message, { notify: false }));
  // messages typed but not sent before the page was closed or reloaded: sent as soon as the session is confirmed
  for (const message of store.get().messages) {
    if (message.from !== "user" || typeof message.pending !== "string") continue;
    view.setPending(items.get(message), true);
    outbox.push({ payload: message.pending, message, item: items.get(message) });
  }
  if (outbox.length) connect();

  function connect() {
    if (socket) return;
    socket = io(config.socketUrl, { path: config.socketPath, transports: ["websocket", "polling"] });
    socket.on("connect", () => {
      // every (re)connection is a new socket id: ask to join the conversation's room again
      socket.emit("session_request", { session_id: store.get().sessionId });
    });
    socket.on("session_confirm", (data) => {
      const id = typeof data === "string" ? data : data && data.session_id;
      if (id && id !== store.get().sessionId) store.setSession(id);
      ready = true;
      view.setStatus(everConnected ? "Connected again." : "");
      if (everConnected) setTimeout(() => ready && view.setStatus(""), 2500);
      everConnected = true;
      while (outbox.length) emit(outbox.shift());
    });
    socket.on("bot_uttered", (data) => {
      const message = fromBot(data);
      view.setTyping(false);
      if (!message) return;
      store.add(message);
      items.set(message, view.add(message));
    });
    socket.on("disconnect", () => {
      ready = false;
      view.setTyping(false);
      view.setStatus("Connection lost. Reconnecting\u2026");
    });
    socket.on("connect_error", () => {
      ready = false;
      view.setStatus(everConnected ? "Connection lost. Reconnecting\u2026" : "Can't reach the chat service. Retrying\u2026");
    });
  }

  function withAgent() {
    const answers = store.get().messages.filter((m) => m.from !== "user");
    return answers.length > 0 && answers[answers.length - 1].from === "agent";
  }

  function emit(entry) {
    const body = { message: entry.payload, session_id: store.get().sessionId };
    if (config.customData || config.identityToken) {
      body.customData = { ...(config.customData || {}) };
      if (config.identityToken) body.customData.identityToken = config.identityToken;
    }
    socket.emit("user_uttered", body);
    if (entry.item) view.setPending(entry.item, false);
    if (entry.message && entry.message.pending !== undefined) {
      delete entry.message.pending;
      store.update();
    }
    // the bot answers within a second or two; a person (during a handoff) is not "typing" on our word
    if (!withAgent()) view.setTyping(true, config.typingTimeoutMs);
  }

  function say(shown, payload) {
    const message = { from: "user", text: shown };
    store.add(message);
    const item = view.add(message);
    items.set(message, item);
    const entry = { payload, message, item };
    connect();
    if (ready) emit(entry);
    else {
      // kept (across reloads too) and shown as "sending…" until the connection is back: never silently dropped
      message.pending = payload;
      store.update();
      view.setPending(item, true);
      outbox.push(entry);
    }
  }

  function open(focus) {
    view.open(focus);
    store.setOpen(true);
    connect();
  }

  // a conversation in progress keeps listening (an agent may answer while the panel is closed)
  if (store.get().sessionId || store.get().messages.length) connect();
  if (store.get().open) open(false);

  return {
    open: () => open(true),
    close: () => view.isOpen() && view.close(),
    send: (text) => say(String(text), String(text)),
    sessionId: () => store.get().sessionId,
  };
}

const api = {
  instance: null,
  init(options) {
    if (!api.instance) api.instance = start(options || {});
    return api.instance;
  },
};

const preset = window.ShopCareChat;
window.ShopCareChat = api;
if (preset && typeof preset === "object" && !preset.init) {
  if (document.body) api.init(preset);
  else document.addEventListener("DOMContentLoaded", () => api.init(preset));
}
