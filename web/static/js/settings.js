// The engagement settings page: send the changed values to the what-if preview, list what would move,
// and (admins) apply them as a new configuration version.
import { api } from "./staff.js";

const form = document.getElementById("engagement-form");
const error = document.querySelector('[data-testid="settings-error"]');
const summary = document.querySelector('[data-testid="preview-summary"]');
const table = document.querySelector('[data-testid="preview-changes"]');

// Only what the user changed; "kind_weights.webinar" becomes {kind_weights: {webinar: n}}.
function changedConfig() {
  const config = {};
  for (const input of form.querySelectorAll('input[type="number"]')) {
    if (input.value === input.dataset.initial) continue;
    const value = Number(input.value);
    const [name, kind] = input.name.split(".");
    if (kind) (config[name] ??= {})[kind] = value;
    else config[name] = value;
  }
  return config;
}

function say(message) {
  error.textContent = message;
  error.hidden = !message;
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

async function preview() {
  say("");
  summary.textContent = "Replaying the event log…";
  try {
    const result = await api("POST", "/api/v1/engagement/preview", { config: changedConfig() });
    const n = result.accounts;
    summary.textContent = n === 0 ? "No account would change." : `${n} account${n === 1 ? "" : "s"} would change.`;
    const body = table.querySelector("tbody");
    body.replaceChildren(
      ...result.changes.map((c) => {
        const row = document.createElement("tr");
        const link = document.createElement("a");
        link.href = `/accounts/${encodeURIComponent(c.account_id)}`;
        link.textContent = c.account_id;
        const first = document.createElement("td");
        first.append(link);
        row.append(first, cell(c.field), cell(c.from), cell(c.to));
        return row;
      }),
    );
    table.hidden = result.changes.length === 0;
  } catch (e) {
    summary.textContent = "";
    say(e.message);
  }
}

async function apply() {
  say("");
  const reason = document.getElementById("reason").value.trim();
  try {
    const result = await api("PUT", "/api/v1/engagement/config", { config: changedConfig(), reason });
    document.querySelector('[data-testid="config-version"]').textContent = result.version;
    for (const input of form.querySelectorAll('input[type="number"]')) input.dataset.initial = input.value;
    summary.textContent = `Applied as version ${result.version}. Run "live scores recompute" to replay history under it.`;
  } catch (e) {
    say(e.message);
  }
}

document.querySelector('[data-testid="preview"]').addEventListener("click", preview);
document.querySelector('[data-testid="apply"]')?.addEventListener("click", apply);
