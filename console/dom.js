// Building DOM without HTML strings: every value becomes a text node or an attribute value, so
// agent names, tool names, reasons and arguments (all attacker-controlled) are never parsed as
// markup. Nothing in the console turns a string into HTML.
//
// Every text node and tooltip also goes through visible(): a character that is invisible or that
// reorders the text after it (U+202E RIGHT-TO-LEFT OVERRIDE in an IBAN, a zero-width space, a
// bidi isolate) is shown as its escape, `\u202E`, never applied — an approver must see exactly
// what the agent sent. The same rule as the CLI's (TesseraCore `VisibleText`), except that a
// newline is kept: the only newlines the console renders are its own (JSON.stringify escapes
// those inside strings).

const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Bidi_Control}\p{Default_Ignorable_Code_Point}]/gu;

export function visible(text) {
  return String(text).replace(HIDDEN, (c) => {
    if (c === '\n') return c;
    const code = c.codePointAt(0);
    const hex = code.toString(16).toUpperCase();
    return code > 0xFFFF ? `\\u{${hex}}` : `\\u${hex.padStart(4, '0')}`;
  });
}

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = visible(value);
    else if (key === 'title') el.setAttribute('title', visible(value));
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value') el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(visible(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function shortID(id, length = 8) {
  if (typeof id !== 'string') return '';
  return id.length > length + 1 ? id.slice(0, length) + '…' : id;
}

export function ago(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function time(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleString();
}

export function table(headings, rows, attrs) {
  return h('table', attrs, h('thead', null, h('tr', null, headings.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', null, rows));
}

// A button for an action that takes access away (revoke, disable): one click, because a kill
// switch has to be fast and a mistaken one costs only a re-issue. Disabled while the call runs, so
// a double click does not send it twice.
export function actionButton(label, action, attrs = {}) {
  const button = h('button', { type: 'button', class: 'danger', ...attrs }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try { await action(); } finally { button.disabled = false; }
  });
  return button;
}

export function badge(text, kind) {
  return h('span', { class: `pill ${kind || String(text).toLowerCase()}` }, text);
}
