// Building DOM nodes: text always goes in through textContent, never as HTML.

export function el(tag, options = {}, ...children) {
  const node = document.createElement(tag);
  const { text, className, attrs, dataset, on } = options;
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  Object.assign(node.dataset, dataset ?? {});
  for (const [event, handler] of Object.entries(on ?? {})) node.addEventListener(event, handler);
  for (const child of children) if (child) node.append(child);
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
export const byTestId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);

export function timeOf(iso) {
  const at = iso ? new Date(iso) : new Date();
  return at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// Keeps a scrolled list pinned to its newest item unless the reader scrolled up.
export function appendScrolled(list, item) {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  if (atBottom) list.scrollTop = list.scrollHeight;
}
