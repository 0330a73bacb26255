// The registration page: shows the session's time in the visitor's own time zone.
for (const el of document.querySelectorAll("time[data-local-time]")) {
  const at = new Date(el.getAttribute("datetime"));
  if (!Number.isNaN(at.getTime())) {
    el.textContent = at.toLocaleString(undefined, {
      weekday: "long", day: "numeric", month: "long", year: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short",
    });
  }
}
