// The widget's CSS. It lives in the widget's shadow root, so the shop's page styles cannot break it and it cannot
// leak into the page. Colours meet WCAG AA contrast on their backgrounds.
export const CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
.root { position: fixed; bottom: 20px; right: 20px; z-index: 2147483000; display: flex; flex-direction: column;
  align-items: flex-end; gap: 12px;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2433; }
.root.left { right: auto; left: 20px; align-items: flex-start; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
button { font: inherit; cursor: pointer; }
button:focus-visible, input:focus-visible { outline: 3px solid #ffb300; outline-offset: 2px; }
.launcher { display: flex; align-items: center; gap: 8px; border: 0; border-radius: 28px; padding: 12px 20px;
  background: var(--accent); color: #fff; font-weight: 600; box-shadow: 0 4px 14px rgba(0,0,0,.25); }
.badge { background: #c62828; color: #fff; border-radius: 10px; padding: 0 7px; font-size: 12px; }
.panel { width: min(370px, calc(100vw - 40px)); height: min(560px, calc(100vh - 110px)); display: flex;
  flex-direction: column; background: #fff; border-radius: 14px; overflow: hidden;
  box-shadow: 0 10px 30px rgba(0,0,0,.28); }
.panel[hidden] { display: none; }
.head { background: var(--accent); color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 10px; }
.head h2 { margin: 0; font-size: 16px; }
.head p { margin: 0; font-size: 12px; opacity: .9; }
.head .titles { flex: 1; }
.close { background: transparent; border: 0; color: #fff; font-size: 22px; line-height: 1; padding: 4px 8px;
  border-radius: 6px; }
.status { background: #fff4e5; color: #663c00; font-size: 13px; padding: 6px 14px; }
.status:empty { display: none; }
.log { list-style: none; margin: 0; padding: 12px; flex: 1; overflow-y: auto; display: flex; flex-direction: column;
  gap: 8px; background: #f4f6fa; }
.welcome { color: #4a5568; font-size: 14px; text-align: center; padding: 8px 12px; }
.msg { max-width: 85%; display: flex; flex-direction: column; gap: 2px; }
.msg .who { font-size: 11px; color: #4a5568; }
.msg .text { margin: 0; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.msg.bot .text { background: #fff; border: 1px solid #dde3ec; border-bottom-left-radius: 4px; }
.msg.agent .text { background: #e8f5e9; border: 1px solid #a5d6a7; border-bottom-left-radius: 4px; }
.msg.agent .who { color: #1b5e20; font-weight: 600; }
.msg.user { align-self: flex-end; align-items: flex-end; }
.msg.user .text { background: var(--accent); color: #fff; border-bottom-right-radius: 4px; }
.msg.pending .text { opacity: .6; }
.msg .state { font-size: 11px; color: #4a5568; }
.msg a { color: inherit; }
.msg img { max-width: 100%; border-radius: 8px; }
.replies { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 4px; }
.replies button { background: #fff; color: var(--accent); border: 1px solid var(--accent); border-radius: 16px;
  padding: 5px 12px; font-size: 14px; }
.replies button:hover { background: #eef2fb; }
.typing { padding: 0 14px 6px; background: #f4f6fa; height: 22px; }
.typing[hidden] { display: block; }
.typing[hidden] > * { visibility: hidden; }
.dots span { display: inline-block; width: 7px; height: 7px; margin-right: 3px; border-radius: 50%;
  background: #7a869a; animation: scw-blink 1.2s infinite ease-in-out; }
.dots span:nth-child(2) { animation-delay: .2s; } .dots span:nth-child(3) { animation-delay: .4s; }
@keyframes scw-blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }
@media (prefers-reduced-motion: reduce) { .dots span { animation: none; } }
form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #dde3ec; background: #fff; }
input { flex: 1; min-width: 0; border: 1px solid #9aa5b8; border-radius: 8px; padding: 8px 10px; font: inherit; }
.send { border: 0; border-radius: 8px; padding: 8px 14px; background: var(--accent); color: #fff; font-weight: 600; }
`;
