// The widget's DOM: a launcher button and a chat panel inside a shadow root. Everything the bot, an agent or the
// customer wrote is inserted as text (textContent), never as HTML; only http(s) links become anchors.
import { CSS } from "./styles.js";

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// a speech bubble, drawn inline (no icon font, no network)
function chatIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "20");
  svg.setAttribute("height", "20");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
  svg.append(path);
  return svg;
}

const LINK = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)'])/g;

function linkified(text) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    out.push(text.slice(last, match.index));
    out.push(el("a", { href: match[0], target: "_blank", rel: "noopener noreferrer", text: match[0] }));
    last = match.index + match[0].length;
  }
  out.push(text.slice(last));
  return out;
}

export function createView(config, handlers) {
  const host = el("div", { "data-shopcare-chat": "" });
  const shadow = host.attachShadow({ mode: "open" });
  shadow.append(el("style", { text: CSS }));

  const badge = el("span", { class: "badge", hidden: "" });
  const launcher = el("button", { type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": "scw-panel" }, [
    chatIcon(),
    el("span", { class: "label", text: config.launcherLabel }),
    badge,
  ]);
  const close = el("button", { type: "button", class: "close", "aria-label": "Close chat", text: "\u00D7" });
  const status = el("div", { class: "status", role: "status", "aria-live": "polite" });
  const log = el("ol", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const welcome = el("li", { class: "welcome", text: config.welcome || "" });
  const typing = el("div", { class: "typing", role: "status", hidden: "" }, [
    el("span", { class: "sr", text: `${config.title} is typing` }),
    el("span", { class: "dots", "aria-hidden": "true" }, [el("span"), el("span"), el("span")]),
  ]);
  const input = el("input", {
    id: "scw-input",
    type: "text",
    autocomplete: "off",
    maxlength: String(config.maxLength),
    placeholder: "Type a message\u2026",
  });
  const send = el("button", { type: "submit", class: "send", "aria-label": "Send message", text: "Send" });
  const form = el("form", {}, [el("label", { class: "sr", for: "scw-input", text: "Your message" }), input, send]);
  const titleId = "scw-title";
  const panel = el("section", { id: "scw-panel", class: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": titleId, hidden: "" }, [
    el("div", { class: "head" }, [
      el("div", { class: "titles" }, [el("h2", { id: titleId, text: config.title }), el("p", { text: config.subtitle || "" })]),
      close,
    ]),
    status,
    log,
    typing,
    form,
  ]);
  const root = el("div", { class: `root ${config.position === "left" ? "left" : ""}` }, [panel, launcher]);
  root.style.setProperty("--accent", config.accentColor);
  shadow.append(root);
  if (config.welcome) log.append(welcome);

  let unread = 0;
  let typingTimer = null;

  function updateLauncher() {
    badge.textContent = String(unread);
    badge.hidden = unread === 0;
    const extra = unread ? ` (${unread} new message${unread > 1 ? "s" : ""})` : "";
    launcher.setAttribute("aria-label", `Chat with ${config.title}${extra}`);
  }
  updateLauncher();

  launcher.addEventListener("click", () => (panel.hidden ? handlers.onOpen(true) : handlers.onClose()));
  close.addEventListener("click", () => handlers.onClose());
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") handlers.onClose();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    handlers.onSend(text);
  });

  function whoLabel(message) {
    if (message.from === "agent") return `${message.agentName || "Customer service"} \u00B7 team member`;
    return message.from === "user" ? "You" : config.title;
  }

  function renderReplies(item, message) {
    const group = el("div", { class: "replies", role: "group", "aria-label": "Suggested replies" });
    for (const button of message.buttons) {
      const b = el("button", { type: "button", text: button.title });
      b.addEventListener("click", () => handlers.onReply(message, button));
      group.append(b);
    }
    item.append(group);
  }

  return {
    host,
    isOpen: () => !panel.hidden,
    open(focus) {
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      unread = 0;
      updateLauncher();
      log.scrollTop = log.scrollHeight;
      if (focus) input.focus();
    },
    close() {
      panel.hidden = true;
      launcher.setAttribute("aria-expanded", "false");
      launcher.focus();
    },
    // Appends one message; returns its element so a pending message can be marked as sent later.
    add(message, { notify = true } = {}) {
      const isUser = message.from === "user";
      const item = el("li", { class: `msg ${message.from}`, "data-sender": message.from }, [
        el("span", { class: isUser || message.from === "bot" ? "who sr" : "who", text: whoLabel(message) }),
      ]);
      if (message.text) item.append(el("p", { class: "text" }, linkified(message.text)));
      if (message.image) item.append(el("img", { src: message.image, alt: message.text || "Image from the assistant" }));
      if (message.buttons && message.buttons.length) renderReplies(item, message);
      log.append(item);
      log.scrollTop = log.scrollHeight;
      if (notify && !isUser && panel.hidden) {
        unread += 1;
        updateLauncher();
      }
      return item;
    },
    // A message kept while the connection is down shows "sending…" until it has been sent.
    setPending(messageItem, pending) {
      messageItem.classList.toggle("pending", pending);
      const label = messageItem.querySelector(".state");
      if (pending && !label) messageItem.append(el("span", { class: "state", text: "sending…" }));
      if (!pending && label) label.remove();
    },
    removeReplies(messageItem) {
      const group = messageItem && messageItem.querySelector(".replies");
      if (group) group.remove();
      input.focus();
    },
    lastItem: () => log.lastElementChild,
    setStatus(text) {
      status.textContent = text || "";
    },
    setTyping(on, timeoutMs) {
      clearTimeout(typingTimer);
      typing.hidden = !on;
      if (on) typingTimer = setTimeout(() => (typing.hidden = true), timeoutMs);
    },
  };
}
