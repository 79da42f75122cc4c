// Small DOM helpers: element builders that never parse HTML (text is always text), icons,
// formatting, toasts, dialogs and the empty, loading and error states every page shares.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      const names = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
      if (names) el.setAttribute("class", names);
    } else if (key === "style") {
      // Through the CSSOM: the page's Content-Security-Policy forbids style attributes.
      for (const [name, v] of Object.entries(value)) el.style.setProperty(name, String(v));
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" || key === "checked" || key === "indeterminate") {
      el[key] = value; // properties, set after the children so a <select> has its options
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** An HTML element: h("a", {href: "#/"}, "Home", h("span", {}, "!")). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  append(el, children);
  apply(el, attrs);
  return el;
}

/** An SVG element, same shape as h(). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  append(el, children);
  apply(el, attrs);
  return el;
}

export function icon(name, label) {
  const svg = s(
    "svg",
    label
      ? { class: "icon", role: "img", "aria-label": label }
      : { class: "icon", "aria-hidden": "true", focusable: "false" },
    s("use", { href: `ui/icons.svg#${name}` }),
  );
  return svg;
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
/** A document-unique id for label/aria wiring. */
export function nextId(prefix = "id") {
  uid += 1;
  return `${prefix}-${uid}`;
}

// -- formatting ----------------------------------------------------------------------------------

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function percent(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return `${(value * 100).toFixed(digits)} %`;
}

const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const ABSOLUTE = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function relativeTime(iso) {
  if (!iso) return "";
  const then = new Date(iso);
  const seconds = (then.getTime() - Date.now()) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 45) return seconds > 0 ? "in a moment" : "just now";
  if (abs < 3600) return RELATIVE.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return RELATIVE.format(Math.round(seconds / 3600), "hour");
  if (abs < 7 * 86400) return RELATIVE.format(Math.round(seconds / 86400), "day");
  return ABSOLUTE.format(then);
}

/** A <time> showing "5 minutes ago", with the full date on hover. */
export function timeEl(iso) {
  if (!iso) return h("span", { class: "muted" }, "–");
  return h("time", { datetime: iso, title: ABSOLUTE.format(new Date(iso)) }, relativeTime(iso));
}

export function absoluteTime(iso) {
  return iso ? ABSOLUTE.format(new Date(iso)) : "–";
}

export function titleCase(text) {
  const words = String(text).replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// -- shared pieces -------------------------------------------------------------------------------

const STATUS_TEXT = {
  pending: "Pending",
  processing: "Analysing",
  running: "Running",
  done: "Done",
  failed: "Failed",
  skipped: "Skipped",
};

/** A status badge: colour and a word (never colour alone). */
export function badge(status, text) {
  return h(
    "span",
    { class: ["badge", `status-${status}`], dataset: { status } },
    h("span", { class: "dot", "aria-hidden": "true" }),
    text ?? STATUS_TEXT[status] ?? titleCase(status),
  );
}

export function spinner(label = "Loading") {
  return h("span", { class: "spinner", role: "status", "aria-label": label });
}

export function loadingState(text = "Loading…") {
  return h("div", { class: "state loading" }, spinner(text), h("p", {}, text));
}

export function emptyState({ iconName = "inbox", title, text, actions = [] }) {
  return h(
    "div",
    { class: "state empty" },
    h("div", { class: "state-icon" }, icon(iconName)),
    h("h2", {}, title),
    text ? h("p", {}, text) : null,
    actions.length ? h("div", { class: "state-actions" }, actions) : null,
  );
}

export function errorState(error, retry, level = "h2") {
  return h(
    "div",
    { class: "state error", role: "alert" },
    h("div", { class: "state-icon" }, icon("alert")),
    h(level, {}, "Something went wrong"),
    h("p", {}, error?.message ?? String(error)),
    error?.code ? h("p", { class: "muted small" }, h("code", {}, error.code)) : null,
    retry
      ? h("div", { class: "state-actions" }, h("button", { type: "button", onclick: retry }, icon("refresh"), "Try again"))
      : null,
  );
}

/** Shows `message` by the form control `input`, under its field, or takes it away (`null`):
 *  a form's error says what is wrong next to what it concerns, and the control is marked
 *  invalid and described by it for screen readers. */
export function setFieldError(input, message) {
  const id = `${input.id}-error`;
  const described = (input.getAttribute("aria-describedby") ?? "").split(" ").filter((v) => v && v !== id);
  document.getElementById(id)?.remove();
  if (message) {
    const text = h("p", { class: "field-error", id }, icon("alert"), h("span", {}, message));
    (input.closest(".field") ?? input.parentElement).append(text);
    described.push(id);
    input.setAttribute("aria-invalid", "true");
  } else {
    input.removeAttribute("aria-invalid");
  }
  if (described.length) input.setAttribute("aria-describedby", described.join(" "));
  else input.removeAttribute("aria-describedby");
}

/** Takes every field error of `form` away. */
export function clearFieldErrors(form) {
  for (const input of form.querySelectorAll("[aria-invalid=true]")) setFieldError(input, null);
}

/** A button that copies `text` to the clipboard and says so. */
export function copyButton(text, label = "Copy") {
  const button = h("button", { type: "button", class: "small ghost" }, icon("copy"), label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(typeof text === "function" ? text() : text);
      toast("Copied to the clipboard.");
    } catch {
      toast("The browser did not allow copying; select the text and copy it instead.", "error");
    }
  });
  return button;
}

// -- toasts and dialogs --------------------------------------------------------------------------

export function toast(message, kind = "info", { action } = {}) {
  const region = document.getElementById(kind === "error" ? "alerts" : "toasts");
  const item = h(
    "div",
    { class: ["toast", `toast-${kind}`] },
    icon(kind === "error" ? "alert" : "check"),
    h("span", { class: "toast-text" }, message),
    action ? h("a", { href: action.href, class: "toast-action" }, action.label) : null,
    h("button", { type: "button", class: "icon-button ghost", "aria-label": "Dismiss", onclick: () => item.remove() }, icon("x")),
  );
  region.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 12000 : 5000);
}

/** A modal confirmation; resolves true when confirmed. */
export function confirmDialog({ title, message, confirm = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    const titleId = nextId("dialog-title");
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": titleId },
      h(
        "form",
        { method: "dialog" },
        h("h2", { id: titleId }, title),
        message ? h("p", {}, message) : null,
        h(
          "div",
          { class: "dialog-actions" },
          h("button", { value: "cancel", type: "submit", class: "ghost" }, "Cancel"),
          h("button", { value: "confirm", type: "submit", class: danger ? "danger" : "primary" }, confirm),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector("button.ghost").focus();
  });
}

/** The last step of rendering a page: its <h1> gets focus so screen readers announce it. */
export function focusHeading(root) {
  const heading = root.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}
