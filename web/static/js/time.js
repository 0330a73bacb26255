// Times in the viewer's own zone, on every staff page. The server stores and sends UTC; each page
// renders `<time datetime="ISO">` with a UTC fallback text, and this module rewrites it in the
// browser's zone ("Tue 1 Dec, 15:00 (Europe/Berlin)"). Entered times go the other way:
// a datetime-local value is read in the browser's zone and sent as ISO with its offset.

export const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

const two = (n) => String(n).padStart(2, "0");

function parts(date, options) {
  const formatter = new Intl.DateTimeFormat("en-GB", { timeZone: zone, ...options });
  return Object.fromEntries(formatter.formatToParts(date).map((p) => [p.type, p.value]));
}

// "Tue 1 Dec, 15:00 (Europe/Berlin)"; the year only when it is not this year's.
// `format`: "datetime" (default), "time" ("15:00") or "date" ("Tue 1 Dec").
export function formatLocal(iso, format = "datetime", withZone = true) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const p = parts(date, {
    weekday: "short", day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  const thisYear = parts(new Date(), { year: "numeric" }).year;
  const day = `${p.weekday} ${p.day} ${p.month}${p.year === thisYear ? "" : ` ${p.year}`}`;
  const clock = `${p.hour}:${p.minute}`;
  const text = format === "time" ? clock : format === "date" ? day : `${day}, ${clock}`;
  return withZone && format !== "date" ? `${text} (${zone})` : text;
}

// A datetime-local value ("2026-12-01T15:00"), read in the browser's zone, as ISO with its offset
// ("2026-12-01T15:00:00-05:00"). The offset is the one in force at that moment, so summer time counts.
export function localToIso(value) {
  const date = new Date(value); // a date-time without offset is local time (ECMAScript's rule)
  if (Number.isNaN(date.getTime())) return undefined;
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}T${two(date.getHours())}:` +
    `${two(date.getMinutes())}:00${sign}${two(Math.floor(abs / 60))}:${two(abs % 60)}`;
}

// The other way: an ISO time as the value a datetime-local input shows in the browser's zone.
export function isoToLocal(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}T${two(date.getHours())}:${two(date.getMinutes())}`;
}

export function renderTimes(root = document) {
  for (const node of root.querySelectorAll("time[datetime][data-local]")) {
    const text = formatLocal(node.getAttribute("datetime"), node.dataset.format, node.dataset.zone !== "off");
    if (!text) continue;
    node.textContent = text;
    node.title = node.getAttribute("datetime");
  }
  // Beside each datetime input: which zone the typed time is read in.
  for (const node of root.querySelectorAll("[data-zone-name]")) node.textContent = zone;
  for (const input of root.querySelectorAll("input[type=datetime-local][data-iso]")) {
    if (!input.value) input.value = isoToLocal(input.dataset.iso);
  }
}

renderTimes();
