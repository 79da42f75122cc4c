// Event subscriptions (webhooks): create, list, pause, delete; each one's deliveries and its
// delivery log, and redelivering dead letters.

import { api, EVENT_TYPES } from "./api.js";
import {
  badge,
  clear,
  clearFieldErrors,
  confirmDialog,
  copyButton,
  emptyState,
  h,
  icon,
  nextId,
  setFieldError,
  spinner,
  timeEl,
  titleCase,
  toast,
} from "./dom.js";

const REFRESH_MS = 3000;
const PAGE = 25;
const path = (id) => `v1/subscriptions/${encodeURIComponent(id)}`;
// A secret is answered once, by the request that made it: kept here for the page that shows it.
let freshSecret = null;

const TYPE_GROUPS = [
  ["Images", EVENT_TYPES.filter((t) => t.startsWith("sightline.image."))],
  ["Classifiers", EVENT_TYPES.filter((t) => t.startsWith("sightline.classifier."))],
  ["Other", EVENT_TYPES.filter((t) => !t.startsWith("sightline.image.") && !t.startsWith("sightline.classifier."))],
];

const DELIVERY_STATUS = {
  pending: ["pending", "Pending"],
  delivered: ["done", "Delivered"],
  dead_lettered: ["failed", "Dead letter"],
};

function shortType(type) {
  return type.replace(/^sightline\./, "");
}

function countsOf(subscription) {
  const counts = subscription.counts ?? subscription.counters ?? subscription;
  return {
    pending: counts.pending ?? 0,
    delivered: counts.delivered ?? 0,
    dead_lettered: counts.dead_lettered ?? 0,
  };
}

function titleOf(subscription) {
  if (subscription.name) return subscription.name;
  try {
    return new URL(subscription.endpoint).host;
  } catch {
    return subscription.endpoint;
  }
}

function stateBadge(subscription) {
  return subscription.paused ? badge("paused", "Paused") : badge("done", "Active");
}

function filterSummary(subscription) {
  const parts = [];
  parts.push(subscription.event_types?.length ? subscription.event_types.map(shortType).join(", ") : "every event");
  if (subscription.subject_begins_with) parts.push(`subject starts “${subscription.subject_begins_with}”`);
  if (subscription.subject_ends_with) parts.push(`subject ends “${subscription.subject_ends_with}”`);
  for (const filter of subscription.data_filters ?? []) {
    const operator = { in: "is", begins_with: "starts with", ends_with: "ends with" }[filter.operator] ?? filter.operator;
    parts.push(`${filter.key} ${operator} ${filter.values.join(" or ")}`);
  }
  return parts.join(" · ");
}

function unavailable(error) {
  // The route itself is missing (a server without subscriptions), not one subscription.
  return error.status === 404 && error.code === "NotFound";
}

// -- create --------------------------------------------------------------------------------------

function filterRow(onRemove) {
  const key = h("input", { "aria-label": "Field", placeholder: "data.filename", list: "filter-keys", autocomplete: "off", class: "filter-key" });
  const operator = h(
    "select",
    { "aria-label": "Operator", class: "filter-operator" },
    h("option", { value: "ends_with" }, "ends with"),
    h("option", { value: "begins_with" }, "begins with"),
    h("option", { value: "in" }, "is one of"),
  );
  const values = h("input", { "aria-label": "Values, comma-separated", placeholder: ".jpg, .jpeg", autocomplete: "off", class: "filter-values" });
  const row = h(
    "li",
    { class: "filter-row-item" },
    key,
    operator,
    values,
    h("button", { type: "button", class: "icon-button ghost", "aria-label": "Remove this filter", onclick: () => onRemove(row) }, icon("x")),
  );
  row.read = () => ({
    key: key.value.trim(),
    operator: operator.value,
    values: values.value.split(",").map((v) => v.trim()).filter(Boolean),
  });
  return row;
}

// The API's errors about the endpoint (its codes stay stable), and its request checks by the
// body field they name.
const ENDPOINT_CODES = new Set(["InvalidUrl", "UrlNotAllowed", "WebhookTargetForbidden", "WebhookValidationFailed"]);
const BODY_FIELDS = {
  endpoint: "endpoint",
  name: "name",
  secret: "secret",
  max_events_per_batch: "batch",
  max_attempts: "attempts",
  event_ttl_minutes: "ttl",
  subject_begins_with: "begins",
  subject_ends_with: "ends",
};

/** [input, message] pairs for the form's fields an API error concerns (none: a form-wide error). */
function fieldErrors(error, inputs) {
  if (ENDPOINT_CODES.has(error.code)) return [[inputs.endpoint, error.message]];
  const found = [];
  for (const problem of error.details?.errors ?? []) {
    const input = inputs[BODY_FIELDS[String(problem.location).replace(/^body\./, "")]];
    if (input) found.push([input, String(problem.message).replace(/^Value error, /, "")]);
  }
  return found;
}

function createForm(onCreated) {
  const errorBox = h("div", { class: "form-error", role: "alert", hidden: true });
  const field = (id, label, input, hint) =>
    h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null);
  const name = h("input", { id: "sub-name", autocomplete: "off" });
  const endpoint = h("input", {
    id: "sub-endpoint",
    type: "url",
    required: true,
    placeholder: "https://example.com/hooks/sightline",
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "sub-endpoint-hint",
  });
  const typeBoxes = TYPE_GROUPS.map(([group, types]) =>
    h(
      "div",
      { class: "type-group" },
      h("span", { class: "type-group-title" }, group),
      types.map((type) =>
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "event_types", value: type }), h("code", {}, shortType(type))),
      ),
    ),
  );
  const begins = h("input", { id: "sub-begins", placeholder: "images/", autocomplete: "off" });
  const ends = h("input", { id: "sub-ends", autocomplete: "off" });
  const filterList = h("ul", { class: "filter-rows" });
  const addFilter = (preset) => {
    const row = filterRow((r) => r.remove());
    if (preset) {
      row.querySelector(".filter-key").value = preset.key;
      row.querySelector(".filter-operator").value = preset.operator;
      row.querySelector(".filter-values").value = preset.values;
    }
    filterList.append(row);
    row.querySelector(preset ? ".filter-values" : ".filter-key").focus();
  };
  const batch = h("input", { id: "sub-batch", type: "number", min: 1, max: 100, value: 1 });
  const attempts = h("input", { id: "sub-attempts", type: "number", min: 1, value: 30 });
  const ttl = h("input", { id: "sub-ttl", type: "number", min: 1, value: 1440 });
  const secret = h("input", { id: "sub-secret", minlength: 16, autocomplete: "off", spellcheck: "false" });
  const submit = h("button", { type: "submit", class: "primary" }, icon("plus"), "Create subscription");
  const form = h(
    "form",
    { class: "panel form-panel", "aria-labelledby": "new-sub-title" },
    h("h2", { id: "new-sub-title" }, "New subscription"),
    field("sub-endpoint", "Endpoint URL", endpoint,
      "Sightline first checks that the endpoint agrees to receive events: it sends OPTIONS with WebHook-Request-Origin and needs a 2xx answer with WebHook-Allowed-Origin."),
    field("sub-name", h("span", {}, "Name ", h("span", { class: "muted" }, "(optional)")), name),
    h(
      "fieldset",
      { class: "field" },
      h("legend", {}, "Events"),
      h("p", { class: "hint" }, "Leave all unchecked to receive every event."),
      h("div", { class: "type-groups" }, typeBoxes),
    ),
    h(
      "fieldset",
      { class: "field" },
      h("legend", {}, "Filters"),
      h(
        "div",
        { class: "two-fields" },
        field("sub-begins", "Subject begins with", begins),
        field("sub-ends", "Subject ends with", ends),
      ),
      h("p", { class: "hint" }, "Filters on the event's data, all of which must match (case-insensitive):"),
      filterList,
      h("datalist", { id: "filter-keys" }, ["data.filename", "data.metadata.collection", "data.status", "data.content_type"].map((v) => h("option", { value: v }))),
      h(
        "div",
        { class: "filter-presets" },
        h("button", { type: "button", class: "small ghost", onclick: () => addFilter({ key: "data.filename", operator: "ends_with", values: ".jpg, .jpeg" }) }, icon("plus"), "Only .jpg files"),
        h("button", { type: "button", class: "small ghost", onclick: () => addFilter({ key: "data.metadata.collection", operator: "in", values: "" }) }, icon("plus"), "Only a collection"),
        h("button", { type: "button", class: "small ghost", onclick: () => addFilter() }, icon("plus"), "Another filter"),
      ),
    ),
    h(
      "details",
      { class: "subtle" },
      h("summary", {}, "Delivery options"),
      h(
        "div",
        { class: "two-fields" },
        field("sub-batch", "Events per request", batch, "More than 1 sends a JSON array (application/cloudevents-batch+json)."),
        field("sub-attempts", "Attempts before giving up", attempts),
        field("sub-ttl", "Give up after (minutes)", ttl),
        field("sub-secret", "Signing secret", secret, "At least 16 characters; leave empty to have one generated."),
      ),
    ),
    errorBox,
    h("div", { class: "form-actions" }, submit),
  );
  // A field's error stays until the field is changed.
  form.addEventListener("input", (event) => {
    if (event.target.getAttribute("aria-invalid") === "true") setFieldError(event.target, null);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    clearFieldErrors(form);
    const body = {
      endpoint: endpoint.value.trim(),
      event_types: [...form.querySelectorAll('input[name="event_types"]:checked')].map((input) => input.value),
      max_events_per_batch: Number(batch.value) || 1,
      max_attempts: Number(attempts.value) || 30,
      event_ttl_minutes: Number(ttl.value) || 1440,
      data_filters: [...filterList.children].map((row) => row.read()).filter((f) => f.key && f.values.length),
    };
    if (name.value.trim()) body.name = name.value.trim();
    if (begins.value.trim()) body.subject_begins_with = begins.value.trim();
    if (ends.value.trim()) body.subject_ends_with = ends.value.trim();
    if (secret.value) body.secret = secret.value;
    submit.disabled = true;
    submit.replaceChildren(spinner("Checking the endpoint"), "Checking the endpoint…");
    try {
      const created = await api("v1/subscriptions", { method: "POST", json: body });
      onCreated(created);
    } catch (error) {
      const byField = fieldErrors(error, { endpoint, name, secret, batch, attempts, ttl, begins, ends });
      for (const [input, message] of byField) setFieldError(input, message);
      if (byField.length) {
        byField[0][0].closest("details")?.setAttribute("open", "");
        byField[0][0].focus();
      } else {
        clear(errorBox, error.message);
        errorBox.hidden = false;
      }
    } finally {
      submit.disabled = false;
      submit.replaceChildren(icon("plus"), "Create subscription");
    }
  });
  return form;
}

// -- list ----------------------------------------------------------------------------------------

function subscriptionCard(subscription) {
  const counts = countsOf(subscription);
  return h(
    "li",
    { class: "list-card" },
    h(
      "a",
      { href: `#/subscriptions/${encodeURIComponent(subscription.id)}` },
      h("span", { class: "list-card-title" }, icon("send"), h("strong", {}, titleOf(subscription)), stateBadge(subscription)),
      h("code", { class: "small endpoint" }, subscription.endpoint),
      h("span", { class: "muted small" }, filterSummary(subscription)),
      h(
        "span",
        { class: "list-card-meta small" },
        h("span", {}, `${counts.delivered} delivered`),
        h("span", {}, `${counts.pending} pending`),
        h("span", { class: counts.dead_lettered ? "error-text" : "" }, `${counts.dead_lettered} dead letters`),
      ),
    ),
  );
}

export async function renderSubscriptions({ main, query, signal }) {
  document.title = "Subscriptions · Sightline";
  let subscriptions;
  try {
    subscriptions = (await api("v1/subscriptions", { signal })).subscriptions;
  } catch (error) {
    if (!unavailable(error)) throw error;
    clear(
      main,
      h("section", {}, h("div", { class: "page-head" }, h("h1", {}, "Subscriptions")),
        emptyState({ iconName: "send", title: "Not available", text: "This server does not offer event subscriptions." })),
    );
    return;
  }
  const formSlot = h("div", { class: "form-slot" });
  const toggle = h("button", { type: "button", class: "primary", "aria-expanded": "false" }, icon("plus"), h("span", {}, "New subscription"));
  const showForm = (open) => {
    toggle.setAttribute("aria-expanded", String(open));
    clear(
      formSlot,
      open
        ? createForm((created) => {
            freshSecret = { id: created.id, secret: created.secret };
            location.hash = `#/subscriptions/${encodeURIComponent(created.id)}`;
          })
        : null,
    );
    if (open) formSlot.querySelector("#sub-endpoint").focus();
  };
  toggle.addEventListener("click", () => showForm(toggle.getAttribute("aria-expanded") !== "true"));
  clear(
    main,
    h(
      "section",
      { class: "subscriptions" },
      h(
        "div",
        { class: "page-head" },
        h(
          "div",
          {},
          h("h1", {}, "Subscriptions"),
          h("p", { class: "lede muted" }, "Push events to your own systems: Sightline POSTs signed CloudEvents to your endpoint and retries until it answers."),
        ),
        h("div", { class: "actions" }, toggle),
      ),
      formSlot,
      subscriptions.length
        ? h("ul", { class: "card-list" }, subscriptions.map(subscriptionCard))
        : emptyState({
            iconName: "send",
            title: "No subscriptions yet",
            text: "Create one to have uploads, finished analyses, deletions or trained classifiers delivered to your endpoint as they happen.",
          }),
    ),
  );
  if (query.has("new")) showForm(true);
}

// -- one subscription ----------------------------------------------------------------------------

function secretCallout(secret, rotated) {
  return h(
    "div",
    { class: "callout success", role: "status" },
    h("h2", {}, rotated ? "New signing secret" : "Subscription created"),
    h("p", {}, "This is the only time the signing secret is shown. Store it where your receiver can read it."),
    h("div", { class: "secret-row" }, h("code", { class: "secret" }, secret), copyButton(secret, "Copy secret")),
    h(
      "p",
      { class: "muted small" },
      "Each request carries Sightline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of “t.body” with this secret>; ",
      "in Python, sightline.webhooks.verify_signature(secret, header, body) checks it.",
    ),
  );
}

function cell(label, ...content) {
  // The label heads the cell when a phone screen stacks the table's rows.
  return h("td", { dataset: { label } }, h("div", {}, ...content));
}

function deliveriesTable(items, onRedeliver) {
  const anyDead = items.some((delivery) => delivery.status === "dead_lettered");
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "data stackable deliveries" },
      h("thead", {}, h("tr", {}, ["Event", "Status", "Attempts", "Last answer", "When", anyDead ? "" : null].filter((t) => t !== null).map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        items.map((delivery) => {
          const [kind, text] = DELIVERY_STATUS[delivery.status] ?? ["pending", delivery.status];
          const imageId = delivery.subject?.startsWith("images/") ? delivery.subject.slice(7) : null;
          // "HTTP 400" says nothing the status code does not.
          const error = delivery.last_error && delivery.last_error !== `HTTP ${delivery.last_status_code}` ? delivery.last_error : null;
          const answer = [
            delivery.last_status_code ? h("code", {}, String(delivery.last_status_code)) : null,
            delivery.last_latency_ms !== null && delivery.last_latency_ms !== undefined ? h("span", { class: "muted" }, ` ${Math.round(delivery.last_latency_ms)} ms`) : null,
            error ? h("div", { class: "error-text small" }, error) : null,
          ];
          return h(
            "tr",
            { dataset: { delivery: delivery.id, status: delivery.status } },
            cell(
              "Event",
              h("code", {}, shortType(delivery.event_type)),
              h(
                "div",
                { class: "small truncate subject" },
                imageId ? h("a", { href: `#/images/${imageId}`, title: delivery.subject }, delivery.subject) : delivery.subject,
              ),
            ),
            cell(
              "Status",
              badge(kind, text),
              delivery.dead_letter_reason ? h("div", { class: "muted small" }, delivery.dead_letter_reason.replaceAll("_", " ")) : null,
              delivery.status === "pending" && delivery.next_attempt_at && delivery.attempts ? h("div", { class: "muted small" }, "next try ", timeEl(delivery.next_attempt_at)) : null,
            ),
            cell("Attempts", String(delivery.attempts)),
            cell("Last answer", delivery.last_attempt_at ? answer : h("span", { class: "muted" }, "–")),
            cell("When", timeEl(delivery.delivered_at ?? delivery.last_attempt_at ?? delivery.created_at)),
            anyDead
              ? h(
                  "td",
                  { class: "row-actions" },
                  delivery.status === "dead_lettered"
                    ? h("button", { type: "button", class: "small", onclick: () => onRedeliver(delivery) }, icon("refresh"), "Redeliver")
                    : null,
                )
              : null,
          );
        }),
      ),
    ),
  );
}

function attemptsTable(items) {
  const outcomeBadge = (outcome) => {
    const text = String(outcome ?? "");
    const kind = /deliver|success|ok/.test(text) ? "done" : /dead|reject|expired/.test(text) ? "failed" : "processing";
    return badge(kind, titleCase(text));
  };
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "data stackable attempts" },
      h("thead", {}, h("tr", {}, ["When", "Attempt", "Events", "Response", "Latency", "Outcome"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        items.map((attempt) =>
          h(
            "tr",
            {},
            cell("When", timeEl(attempt.at)),
            cell("Attempt", `#${attempt.attempt}`),
            cell("Events", String(attempt.delivery_ids?.length ?? 1)),
            cell("Response", attempt.status_code ? h("code", {}, String(attempt.status_code)) : h("span", { class: "error-text small" }, attempt.error ?? "no answer")),
            cell("Latency", attempt.latency_ms !== null && attempt.latency_ms !== undefined ? `${Math.round(attempt.latency_ms)} ms` : "–"),
            cell(
              "Outcome",
              outcomeBadge(attempt.outcome),
              attempt.status_code && attempt.error && attempt.error !== `HTTP ${attempt.status_code}` ? h("div", { class: "error-text small" }, attempt.error) : null,
            ),
          ),
        ),
      ),
    ),
  );
}

export async function renderSubscription({ main, params, query, signal, setQuery }) {
  const [id] = params;
  let subscription = await api(path(id), { signal });
  let tab = query.get("tab") === "log" ? "log" : "deliveries";
  let status = ["pending", "delivered", "dead_lettered"].includes(query.get("status")) ? query.get("status") : "";
  let items = [];
  let cursor = null;
  let extended = false; // "load more" was used: auto-refresh would drop the later pages
  let timer = null;
  let callout = freshSecret?.id === id ? secretCallout(freshSecret.secret, false) : null;
  freshSecret = null;

  const head = h("div", { class: "page-head" });
  const calloutSlot = h("div");
  const tiles = h("dl", { class: "tiles" });
  const settings = h("div");
  const tableSlot = h("div", { class: "tab-body" });
  const moreButton = h("button", { type: "button", class: "ghost", hidden: true }, "Load more");
  const redeliverAll = h("button", { type: "button", class: "small", hidden: true }, icon("refresh"), "Redeliver all dead letters");

  async function update(patch, message) {
    try {
      subscription = await api(path(id), { method: "PATCH", json: patch });
      if (subscription.secret && patch.rotate_secret) callout = secretCallout(subscription.secret, true);
      if (message) toast(message);
      render();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function remove() {
    const ok = await confirmDialog({
      title: `Delete ${titleOf(subscription)}?`,
      message: "Deliveries stop at once; pending ones and the delivery log are dropped.",
      confirm: "Delete subscription",
      danger: true,
    });
    if (!ok) return;
    try {
      await api(path(id), { method: "DELETE" });
      toast("Subscription deleted.");
      location.hash = "#/subscriptions";
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function redeliver(delivery) {
    try {
      await api(`${path(id)}/deliveries/${encodeURIComponent(delivery.id)}/redeliver`, { method: "POST" });
      toast("Queued for delivery again.");
      await reloadTable();
      await reloadSubscription();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  redeliverAll.addEventListener("click", async () => {
    try {
      const answer = await api(`${path(id)}/redeliver`, { method: "POST" });
      toast(answer.requeued === 1 ? "1 dead letter queued again." : `${answer.requeued} dead letters queued again.`);
      await reloadTable();
      await reloadSubscription();
    } catch (error) {
      toast(error.message, "error");
    }
  });

  function fetchPage(pageCursor) {
    if (tab === "log") return api(`${path(id)}/attempts`, { query: { limit: PAGE, cursor: pageCursor }, signal });
    return api(`${path(id)}/deliveries`, { query: { status, limit: PAGE, cursor: pageCursor }, signal });
  }

  function renderTable() {
    if (!items.length) {
      const words = { "": "No deliveries yet.", pending: "Nothing is waiting.", delivered: "Nothing delivered yet.", dead_lettered: "No dead letters." };
      clear(tableSlot, h("p", { class: "muted empty-row" }, tab === "log" ? "No requests sent yet." : words[status]));
    } else {
      clear(tableSlot, tab === "log" ? attemptsTable(items) : deliveriesTable(items, redeliver));
    }
    moreButton.hidden = !cursor;
  }

  async function reloadTable() {
    const answer = await fetchPage(null);
    items = answer.deliveries ?? answer.attempts ?? [];
    cursor = answer.next_cursor ?? null;
    extended = false;
    renderTable();
  }

  moreButton.addEventListener("click", async () => {
    moreButton.disabled = true;
    try {
      const answer = await fetchPage(cursor);
      items = items.concat(answer.deliveries ?? answer.attempts ?? []);
      cursor = answer.next_cursor ?? null;
      extended = true;
      renderTable();
    } catch (error) {
      toast(error.message, "error");
    } finally {
      moreButton.disabled = false;
    }
  });

  async function reloadSubscription() {
    subscription = await api(path(id), { signal });
    renderCounts();
    renderHead();
  }

  function renderHead() {
    document.title = `${titleOf(subscription)} · Subscriptions · Sightline`;
    clear(
      head,
      h(
        "div",
        { class: "title-block" },
        h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/subscriptions" }, icon("chevron-left"), "Subscriptions")),
        h("h1", { class: "truncate" }, titleOf(subscription)),
        h("div", { class: "subtitle" }, stateBadge(subscription), h("code", { class: "muted small endpoint" }, subscription.endpoint)),
      ),
      h(
        "div",
        { class: "actions" },
        subscription.paused
          ? h("button", { type: "button", class: "primary", onclick: () => update({ paused: false }, "Resumed: waiting events are delivered now.") }, icon("play"), h("span", {}, "Resume"))
          : h("button", { type: "button", onclick: () => update({ paused: true }, "Paused: events are kept and delivered on resume (within their time to live).") }, icon("pause"), h("span", {}, "Pause")),
        h("button", { type: "button", class: "ghost", onclick: () => update({ rotate_secret: true }, "The secret was replaced.") }, icon("key"), h("span", {}, "Rotate secret")),
        h("button", { type: "button", class: "danger", onclick: remove }, icon("trash"), h("span", {}, "Delete")),
      ),
    );
  }

  function renderCounts() {
    const counts = countsOf(subscription);
    clear(
      tiles,
      h("div", { class: "tile" }, h("dt", {}, "Delivered"), h("dd", {}, String(counts.delivered))),
      h("div", { class: "tile" }, h("dt", {}, "Pending"), h("dd", {}, String(counts.pending))),
      h("div", { class: counts.dead_lettered ? "tile alert" : "tile" }, h("dt", {}, "Dead letters"), h("dd", {}, String(counts.dead_lettered))),
    );
    redeliverAll.hidden = !(counts.dead_lettered && tab === "deliveries");
  }

  function renderSettings() {
    const rows = [
      ["Endpoint", h("code", { class: "endpoint" }, subscription.endpoint)],
      ["Events", subscription.event_types?.length ? subscription.event_types.map((t) => h("code", { class: "pill" }, shortType(t))) : "Every event"],
      ["Subject begins with", subscription.subject_begins_with],
      ["Subject ends with", subscription.subject_ends_with],
      ...(subscription.data_filters ?? []).map((f) => [`Filter ${f.key}`, `${f.operator.replaceAll("_", " ")} ${f.values.join(", ")}`]),
      ["Events per request", subscription.max_events_per_batch],
      ["Attempts", subscription.max_attempts],
      ["Time to live", subscription.event_ttl_minutes ? `${subscription.event_ttl_minutes} minutes` : null],
      ["Created", timeEl(subscription.created_at)],
    ].filter(([, value]) => value !== null && value !== undefined && value !== "");
    const titleId = nextId("settings");
    clear(
      settings,
      h(
        "section",
        { class: "panel", "aria-labelledby": titleId },
        h("h2", { id: titleId }, "Settings"),
        h("dl", { class: "facts" }, rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
      ),
    );
  }

  // Tabs: deliveries and the delivery log (every HTTP attempt).
  const tabName = nextId("tab");
  const tabButton = (key, text) =>
    h("button", { type: "button", role: "tab", id: `${tabName}-${key}`, "aria-controls": `${tabName}-panel`, dataset: { tab: key } }, text);
  const tabList = h("div", { role: "tablist", "aria-label": "Deliveries", class: "tabs" }, tabButton("deliveries", "Deliveries"), tabButton("log", "Delivery log"));
  const statusName = nextId("status");
  const statusFilter = h(
    "fieldset",
    { class: "segmented small" },
    h("legend", { class: "visually-hidden" }, "Show"),
    [["", "All"], ["pending", "Pending"], ["delivered", "Delivered"], ["dead_lettered", "Dead letters"]].map(([value, text]) =>
      h("label", { class: "segment" }, h("input", { type: "radio", name: statusName, value, checked: value === status }), h("span", {}, text)),
    ),
  );
  statusFilter.addEventListener("change", (event) => {
    status = event.target.value;
    setQuery({ tab: tab === "log" ? "log" : "", status });
    reloadTable().catch((error) => toast(error.message, "error"));
  });
  const tools = h("div", { class: "panel-tools" }, statusFilter, redeliverAll);
  const tabPanel = h(
    "div",
    { role: "tabpanel", id: `${tabName}-panel`, class: "panel tab-panel" },
    tools,
    tableSlot,
    h("div", { class: "more" }, moreButton),
  );

  function selectTab(key, focus = false) {
    tab = key;
    for (const button of tabList.querySelectorAll('[role="tab"]')) {
      const on = button.dataset.tab === key;
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1;
      if (on) {
        tabPanel.setAttribute("aria-labelledby", button.id);
        if (focus) button.focus();
      }
    }
    tools.hidden = key === "log";
    renderCounts();
    setQuery({ tab: key === "log" ? "log" : "", status: key === "log" ? "" : status });
  }
  tabList.addEventListener("click", (event) => {
    const button = event.target.closest('[role="tab"]');
    if (!button || button.dataset.tab === tab) return;
    selectTab(button.dataset.tab);
    clear(tableSlot, spinner());
    reloadTable().catch((error) => toast(error.message, "error"));
  });
  tabList.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const next = tab === "log" ? "deliveries" : "log";
    selectTab(next, true);
    reloadTable().catch((error) => toast(error.message, "error"));
  });

  function render() {
    renderHead();
    clear(calloutSlot, callout);
    renderCounts();
    renderSettings();
  }

  clear(
    main,
    h(
      "article",
      { class: "subscription-page" },
      head,
      calloutSlot,
      tiles,
      h("div", { class: "sub-layout" }, h("div", { class: "sub-main" }, tabList, tabPanel), h("div", { class: "sub-side" }, settings)),
    ),
  );
  render();
  selectTab(tab);
  await reloadTable();

  // Deliveries happen in the background: keep the counts and the first page fresh.
  const tick = async () => {
    if (signal.aborted) return;
    if (!document.hidden) {
      try {
        await reloadSubscription();
        if (!extended) await reloadTable();
      } catch (error) {
        if (error.name === "AbortError") return;
      }
    }
    timer = setTimeout(tick, REFRESH_MS);
  };
  timer = setTimeout(tick, REFRESH_MS);
  signal.addEventListener("abort", () => clearTimeout(timer));
}
