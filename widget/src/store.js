// What survives a page reload: the Rasa session id (the conversation's sender id), the messages shown, and whether
// the panel was open. Kept in localStorage under one key per socket URL; when storage is unavailable (privacy mode,
// quota) the widget keeps working for the life of the page.

export function createStore(key, maxMessages) {
  let state = { sessionId: null, messages: [], open: false };
  try {
    const saved = JSON.parse(window.localStorage.getItem(key) || "null");
    if (saved && typeof saved === "object") {
      state = {
        sessionId: typeof saved.sessionId === "string" ? saved.sessionId : null,
        messages: Array.isArray(saved.messages) ? saved.messages.filter(isMessage) : [],
        open: saved.open === true,
      };
    }
  } catch (_) {
    // unreadable or corrupt: start afresh rather than fail
  }

  function save() {
    state.messages = state.messages.slice(-maxMessages);
    try {
      window.localStorage.setItem(key, JSON.stringify(state));
    } catch (_) {
      // storage full or forbidden: the conversation still works, it just will not survive a reload
    }
  }

  return {
    get: () => state,
    setSession(id) {
      state.sessionId = id;
      save();
    },
    setOpen(open) {
      state.open = open;
      save();
    },
    add(message) {
      state.messages.push(message);
      save();
    },
    update() {
      save();
    },
  };
}

function isMessage(m) {
  return m && typeof m === "object" && ["user", "bot", "agent"].includes(m.from) && typeof m.text === "string";
}
