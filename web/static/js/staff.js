// Staff pages: forms and buttons that call the JSON API with the page's CSRF token, and copy buttons.
// The pages work as plain links without this script; only writes need it.

import { localToIso } from "./time.js";

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch { /* an empty or non-JSON body */ }
  if (!response.ok) {
    const message = data?.error?.message ?? `The server answered ${response.status}.`;
    throw new Error(message);
  }
  return data;
}

// One field's value as the API wants it: data-type says number, datetime (typed in the browser's
// zone, sent with its offset), list (a multi-select, or checkboxes of one name), boolean ("true"/"false"),
// nullable ("null" hands a value back) or clearable (an emptied field sends null).
export function fieldValue(field) {
  const type = field.dataset.type;
  if (type === "clearable" && field.value.trim() === "") return null;
  if (type === "list") {
    const values = field.multiple ? [...field.selectedOptions].map((o) => o.value) : [field.value];
    return values.filter(Boolean);
  }
  if (field.value === "") return undefined;
  if (type === "number") return Number(field.value);
  if (type === "boolean") return field.value === "true";
  if (type === "datetime") return localToIso(field.value);
  if (type === "nullable" && field.value === "null") return null;
  return field.value.trim();
}

export function formBody(form) {
  const body = {};
  for (const field of form.elements) {
    if (!field.name || field.disabled || field.type === "file") continue;
    if ((field.type === "radio" || field.type === "checkbox") && !field.checked) continue;
    const value = fieldValue(field);
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    body[field.name] = Array.isArray(value) && Array.isArray(body[field.name]) ? [...body[field.name], ...value] : value;
  }
  return body;
}

export function showError(form, message) {
  const box = form.querySelector("[data-form-error]");
  if (box) {
    box.textContent = message;
    box.hidden = !message;
  } else if (message) {
    window.alert(message);
  }
}

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form[data-api-form]");
  if (!form) return;
  event.preventDefault();
  const submit = form.querySelector('[type="submit"]');
  showError(form, "");
  if (submit) submit.disabled = true;
  try {
    const data = await api(form.dataset.method, form.dataset.url, formBody(form));
    if (form.dataset.reveal) {
      // A secret shown once (a webhook's signing secret): stay on the page until the reader is done.
      const box = form.querySelector("[data-revealed]");
      box.querySelector("[data-revealed-value]").textContent = data?.[form.dataset.reveal] ?? "";
      box.hidden = false;
      return;
    }
    if (form.dataset.redirect && data?.id) {
      window.location.assign(form.dataset.redirect.replace("{id}", encodeURIComponent(data.id)));
    } else {
      window.location.reload();
    }
  } catch (error) {
    showError(form, error.message);
    if (submit) submit.disabled = false;
  }
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-api]");
  if (button) {
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
      await api(button.dataset.api, button.dataset.url, body);
      const row = button.closest("[data-proposed]");
      if (row) {
        const note = document.createElement("span");
        note.className = "muted";
        note.textContent = button.dataset.done ?? "Done";
        button.parentElement.replaceChildren(note);
      } else {
        window.location.reload();
      }
    } catch (error) {
      button.disabled = false;
      window.alert(error.message);
    }
    return;
  }
  const copy = event.target.closest("button[data-copy]");
  if (copy) {
    try {
      await navigator.clipboard.writeText(copy.dataset.copy);
    } catch {
      // No clipboard permission (plain http on another host): select the text for Ctrl+C instead.
      copy.previousElementSibling?.select?.();
    }
    const label = copy.textContent;
    copy.textContent = "Copied";
    setTimeout(() => { copy.textContent = label; }, 1500);
  }
});

// Poll result bars carry their share as data-share; it is set here because the page's Content-Security-Policy
// refuses style attributes in the HTML.
for (const bar of document.querySelectorAll("[data-share]")) bar.style.width = `${bar.dataset.share}%`;
