// The admin page: account edit rows, the contacts CSV import (preview, then confirm) and API tokens.
// Plain forms and buttons go through staff.js; this module adds what needs more than one request.

import { el, $ } from "./dom.js";
import { api, formBody, showError } from "./staff.js";
import { formatLocal } from "./time.js";

// Account rows: "Edit" opens the form row under it.
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("button[data-toggle]");
  if (toggle) {
    const row = document.getElementById(toggle.dataset.toggle);
    row.hidden = !row.hidden;
    toggle.setAttribute("aria-expanded", String(!row.hidden));
    toggle.textContent = row.hidden ? "Edit" : "Close";
    if (!row.hidden) row.querySelector("input")?.focus();
    return;
  }
  if (event.target.closest("[data-reload-link]")) {
    event.preventDefault();
    window.location.reload();
  }
});

// Contacts import: the file is read here and sent as text; the server checks every row and answers
// with the preview; only "Import" writes, and the server re-checks the same text in one transaction.
const importForm = $("form[data-import-form]");
const preview = $("[data-import-preview]");
const done = $("[data-import-done]");
let pendingCsv = null;

const RESULT = { new: "will be added", duplicate: "skipped (duplicate)", error: "error" };

function renderPreview(result) {
  const body = $("tbody", preview);
  body.replaceChildren(
    ...result.rows.map((row) =>
      el(
        "tr",
        { className: row.status === "error" ? "has-error" : row.status === "duplicate" ? "is-duplicate" : "" },
        el("td", { className: "num", text: row.line }),
        el("td", { text: row.name }),
        el("td", { text: row.email }),
        el("td", { text: row.account_name ?? row.account }),
        el("td", { className: row.status === "error" ? "row-error" : "" },
          el("span", { text: RESULT[row.status] }),
          row.errors.length ? el("div", { className: "small", text: row.errors.join("; ") }) : null),
      ),
    ),
  );
  const { new: added, duplicate, error } = result.summary;
  $("[data-import-summary]", preview).textContent =
    `${added} new, ${duplicate} duplicate${duplicate === 1 ? "" : "s"} skipped, ${error} with errors.` +
    (error ? " Fix the rows with errors and preview again; nothing is imported while any row has an error." : "");
  const confirm = $("[data-import-confirm]", preview);
  confirm.disabled = error > 0 || added === 0;
  confirm.textContent = `Import ${added} contact${added === 1 ? "" : "s"}`;
  preview.hidden = false;
}

importForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(importForm, "");
  done.hidden = true;
  const file = importForm.elements.file.files[0];
  if (!file) return;
  try {
    pendingCsv = await file.text();
    renderPreview(await api("POST", "/api/v1/contacts/import", { csv: pendingCsv }));
  } catch (error) {
    preview.hidden = true;
    showError(importForm, error.message);
  }
});

$("[data-import-confirm]")?.addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    const result = await api("POST", "/api/v1/contacts/import", { csv: pendingCsv, confirm: true });
    preview.hidden = true;
    importForm.reset();
    done.textContent = `Imported ${result.imported} contact${result.imported === 1 ? "" : "s"}` +
      (result.summary.duplicate ? `; ${result.summary.duplicate} duplicate${result.summary.duplicate === 1 ? "" : "s"} skipped.` : ".");
    done.hidden = false;
  } catch (error) {
    button.disabled = false;
    showError(importForm, error.message);
  }
});

$("[data-import-cancel]")?.addEventListener("click", () => {
  preview.hidden = true;
  pendingCsv = null;
  importForm.reset();
});

// API tokens: listed and created through /api/v1/tokens; a new token is shown once.
const tokenTable = $("[data-testid=admin-tokens] tbody");
const tokenForm = $("form[data-token-form]");

const shown = (iso) => (iso ? el("time", { text: formatLocal(iso), attrs: { datetime: iso } }) : "—");

function tokenStatus(token) {
  if (token.revoked_at) return "revoked";
  if (token.expires_at && new Date(token.expires_at) <= new Date()) return "expired";
  return "active";
}

async function loadTokens() {
  if (!tokenTable) return;
  try {
    const tokens = await api("GET", "/api/v1/tokens");
    if (!tokens.length) {
      tokenTable.replaceChildren(el("tr", {}, el("td", { attrs: { colspan: 7 }, className: "muted", text: "No API tokens yet." })));
      return;
    }
    tokenTable.replaceChildren(...tokens.map((token) => {
      const state = tokenStatus(token);
      const cell = (child) => el("td", { className: "nowrap" }, child);
      const revoke = state === "active"
        ? el("button", {
          className: "small danger", text: "Revoke", attrs: { type: "button" },
          dataset: { api: "DELETE", url: `/api/v1/tokens/${encodeURIComponent(token.id)}`, confirm: `Revoke ${token.name || "this token"}? Scripts using it stop working at once.` },
        })
        : null;
      return el("tr", { dataset: { token: token.id } },
        el("td", { text: token.name || "—" }),
        el("td", { text: token.email }),
        cell(shown(token.created_at)), cell(shown(token.expires_at)), cell(shown(token.last_used_at)),
        el("td", {}, el("span", { className: `status status-${state === "active" ? "delivered" : "cancelled"}`, text: state })),
        el("td", {}, revoke));
    }));
  } catch (error) {
    tokenTable.replaceChildren(el("tr", {}, el("td", { attrs: { colspan: 7 }, className: "alert", text: error.message })));
  }
}

tokenForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(tokenForm, "");
  const submit = $('[type="submit"]', tokenForm);
  submit.disabled = true;
  try {
    const created = await api("POST", "/api/v1/tokens", formBody(tokenForm));
    const box = $("[data-token-created]");
    $("[data-testid=token-secret]", box).textContent = created.token;
    box.hidden = false;
    tokenForm.reset();
    await loadTokens();
  } catch (error) {
    showError(tokenForm, error.message);
  } finally {
    submit.disabled = false;
  }
});

loadTokens();
