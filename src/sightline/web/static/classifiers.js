// Custom classifiers: create one, see its labels and examples, train versions, read their
// metrics as charts, publish.

import { api, events } from "./api.js";
import { confusionMatrixChart, outcomeTable, precisionRecallChart } from "./charts.js";
import {
  badge,
  clear,
  confirmDialog,
  emptyState,
  h,
  icon,
  nextId,
  percent,
  spinner,
  timeEl,
  toast,
} from "./dom.js";

const MIN_EXAMPLES = 5;
const KINDS = {
  multiclass: { title: "One label per image", text: "Each image is exactly one thing, e.g. dress, shirt or trousers." },
  multilabel: { title: "Any number of labels", text: "Labels can overlap, e.g. hail damage and a broken window on one photo." },
};

const keyPath = (key) => `v1/classifiers/${encodeURIComponent(key)}`;

function kindPill(kind) {
  return h("span", { class: "pill" }, kind === "multiclass" ? "one label" : "several labels");
}

// -- list ----------------------------------------------------------------------------------------

function createForm(onCreated) {
  const errorBox = h("p", { class: "form-error", role: "alert", hidden: true });
  const name = h("input", {
    id: "classifier-name",
    name: "name",
    required: true,
    maxlength: 64,
    pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]*",
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "classifier-name-hint",
  });
  const description = h("input", { id: "classifier-description", name: "description", autocomplete: "off" });
  const kindName = nextId("kind");
  const kindOption = (value) =>
    h(
      "label",
      { class: "choice" },
      h("input", { type: "radio", name: kindName, value, checked: value === "multiclass" }),
      h("span", {}, h("strong", {}, KINDS[value].title), h("span", { class: "muted small" }, KINDS[value].text)),
    );
  const submit = h("button", { type: "submit", class: "primary" }, icon("plus"), "Create classifier");
  const form = h(
    "form",
    { class: "panel form-panel", "aria-labelledby": "new-classifier-title" },
    h("h2", { id: "new-classifier-title" }, "New classifier"),
    h(
      "div",
      { class: "field" },
      h("label", { for: "classifier-name" }, "Name"),
      name,
      h("p", { class: "hint", id: "classifier-name-hint" }, "Letters, digits, “_”, “-” and “.”. Its predictions appear on images as the feature custom:NAME."),
    ),
    h("fieldset", { class: "field choices" }, h("legend", {}, "Kind"), kindOption("multiclass"), kindOption("multilabel")),
    h("div", { class: "field" }, h("label", { for: "classifier-description" }, "Description ", h("span", { class: "muted" }, "(optional)")), description),
    errorBox,
    h("div", { class: "form-actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    errorBox.hidden = true;
    try {
      const kind = form.querySelector(`input[name="${kindName}"]:checked`).value;
      const created = await api("v1/classifiers", {
        method: "POST",
        json: { name: name.value.trim(), kind, description: description.value.trim() },
      });
      onCreated(created);
    } catch (error) {
      errorBox.textContent = error.message;
      errorBox.hidden = false;
      name.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function classifierCard(item) {
  const labels = item.labels.map((l) => `${l.name} (${l.examples})`).join(", ");
  return h(
    "li",
    { class: "list-card" },
    h(
      "a",
      { href: `#/classifiers/${encodeURIComponent(item.name)}` },
      h("span", { class: "list-card-title" }, icon("layers"), h("strong", {}, item.name), kindPill(item.kind)),
      item.description ? h("span", { class: "muted" }, item.description) : null,
      h("span", { class: "small" }, item.labels.length ? labels : h("span", { class: "muted" }, "No labelled images yet")),
      h(
        "span",
        { class: "list-card-meta" },
        item.published_version
          ? badge("done", `Published v${item.published_version}`)
          : badge("pending", "Not published"),
        h("span", { class: "muted small" }, `${item.example_count} labelled images`),
      ),
    ),
  );
}

export async function renderClassifiers({ main, query, signal }) {
  document.title = "Classifiers · Sightline";
  const { items } = await api("v1/classifiers", { signal });
  const formSlot = h("div", { class: "form-slot" });
  const toggle = h("button", { type: "button", class: "primary", "aria-expanded": "false" }, icon("plus"), h("span", {}, "New classifier"));
  const showForm = (open) => {
    toggle.setAttribute("aria-expanded", String(open));
    clear(formSlot, open ? createForm((created) => (location.hash = `#/classifiers/${encodeURIComponent(created.name)}`)) : null);
    if (open) formSlot.querySelector("input").focus();
  };
  toggle.addEventListener("click", () => showForm(toggle.getAttribute("aria-expanded") !== "true"));
  const steps = h(
    "ol",
    { class: "steps" },
    h("li", {}, h("strong", {}, "Create"), " a classifier and choose its kind."),
    h("li", {}, h("strong", {}, "Label"), " images: select them in the gallery and give them a label (five or more per label)."),
    h("li", {}, h("strong", {}, "Train"), " a version; its cross-validated metrics show how well it learned."),
    h("li", {}, h("strong", {}, "Publish"), " it: predictions appear on images and in search."),
  );
  clear(
    main,
    h(
      "section",
      { class: "classifiers" },
      h(
        "div",
        { class: "page-head" },
        h("div", {}, h("h1", {}, "Classifiers"), h("p", { class: "lede muted" }, "Teach Sightline your own categories from a few dozen labelled images. Training takes seconds.")),
        h("div", { class: "actions" }, toggle),
      ),
      formSlot,
      items.length
        ? h("ul", { class: "card-list" }, items.map(classifierCard))
        : h("div", { class: "state empty" }, h("div", { class: "state-icon" }, icon("layers")), h("h2", {}, "No classifiers yet"), steps),
    ),
  );
  if (query.has("new") || !items.length) showForm(true);
}

// -- one classifier ------------------------------------------------------------------------------

function metricTiles(version) {
  const overall = version.metrics?.overall ?? {};
  const tiles = [
    ["Accuracy", overall.accuracy],
    ["Precision", overall.precision],
    ["Recall", overall.recall],
    ["Mean average precision", overall.mean_average_precision],
  ].filter(([, value]) => value !== undefined);
  return h(
    "dl",
    { class: "tiles" },
    tiles.map(([name, value]) => h("div", { class: "tile" }, h("dt", {}, name), h("dd", {}, percent(value, 1)))),
  );
}

function metricsPanel(classifier, version) {
  const id = nextId("metrics");
  const metrics = version.metrics;
  const cv = metrics.cross_validation;
  return h(
    "section",
    { class: "panel metrics", "aria-labelledby": id },
    h("h2", { id }, `Metrics of version ${version.number}`),
    h(
      "p",
      { class: "muted small" },
      `Cross-validated${cv ? ` over ${cv.folds} folds of ${cv.examples} examples` : ""}; ${version.threshold > 0 ? `a label counts as predicted at ${percent(version.threshold)} or more` : "the top label is predicted whatever its probability"}.`,
    ),
    metrics.head
      ? h(
          "p",
          { class: "muted small" },
          `Head: ${metrics.head.chosen}, the best of ${metrics.head.candidates.length} candidates by cross-validated ${metrics.head.selected_by.replaceAll("_", " ")} (${metrics.head.candidates.map((c) => `${c.name} ${percent(c.cv_accuracy ?? c.cv_mean_average_precision)}`).join(", ")}).`,
        )
      : null,
    metricTiles(version),
    h("div", { class: "chart-grid" },
      h("div", {}, h("h3", {}, "Precision and recall per label"), precisionRecallChart(metrics.labels)),
      metrics.confusion_matrix?.matrix
        ? h("div", {}, h("h3", {}, "Confusion matrix"), confusionMatrixChart(metrics.confusion_matrix))
        : metrics.confusion_matrix?.per_label
          ? h("div", {}, h("h3", {}, "Outcomes per label"), outcomeTable(metrics.confusion_matrix.per_label))
          : null,
    ),
  );
}

export async function renderClassifier({ main, params, query, signal, setQuery }) {
  const [key] = params;
  let classifier = await api(keyPath(key), { signal });
  let versions = (await api(`${keyPath(key)}/versions`, { signal })).items;
  let shownVersion = Number(query.get("version")) || null;
  let pollTimer = null;

  const head = h("div", { class: "page-head" });
  const labelsSlot = h("div");
  const trainSlot = h("div");
  const versionsSlot = h("div");
  const metricsSlot = h("div");

  async function refresh() {
    try {
      [classifier, versions] = await Promise.all([
        api(keyPath(key), { signal }),
        api(`${keyPath(key)}/versions`, { signal }).then((answer) => answer.items),
      ]);
      render();
    } catch (error) {
      if (error.name !== "AbortError") toast(error.message, "error");
    }
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    if (versions.some((v) => v.status === "training")) pollTimer = setTimeout(refresh, 1000);
  }

  async function remove() {
    const ok = await confirmDialog({
      title: `Delete ${classifier.name}?`,
      message: "Its labels, versions and the predictions stored on images go too. The images stay.",
      confirm: "Delete classifier",
      danger: true,
    });
    if (!ok) return;
    try {
      await api(keyPath(key), { method: "DELETE" });
      toast(`Deleted ${classifier.name}.`);
      location.hash = "#/classifiers";
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function publish(number) {
    try {
      classifier = await api(`${keyPath(key)}/versions/${number}/publish`, { method: "POST" });
      toast(`Version ${number} is published: predictions use it from now on.`);
      render();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function setRunOnUpload(on) {
    try {
      classifier = await api(keyPath(key), { method: "PATCH", json: { run_on_upload: on } });
      toast(on ? "New uploads get this classifier's predictions." : "New uploads no longer run this classifier.");
    } catch (error) {
      toast(error.message, "error");
    }
    render();
  }

  async function backfill() {
    try {
      await api(`${keyPath(key)}/backfill`, { method: "POST", json: { only_missing: true } });
      toast("Predicting on the stored images in the background.");
    } catch (error) {
      toast(error.message, "error");
    }
  }

  function renderHead() {
    clear(
      head,
      h(
        "div",
        { class: "title-block" },
        h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/classifiers" }, icon("chevron-left"), "Classifiers")),
        h("h1", {}, classifier.name),
        h(
          "div",
          { class: "subtitle" },
          kindPill(classifier.kind),
          classifier.published_version
            ? badge("done", `Published v${classifier.published_version}`)
            : badge("pending", "Not published"),
          h("code", { class: "muted small" }, classifier.feature),
        ),
        classifier.description ? h("p", { class: "muted" }, classifier.description) : null,
      ),
      h(
        "div",
        { class: "actions" },
        h("a", { class: "button primary", href: `#/?select=${encodeURIComponent(classifier.name)}` }, icon("check-square"), h("span", {}, "Label images")),
        h("button", { type: "button", class: "danger", onclick: remove }, icon("trash"), h("span", {}, "Delete")),
      ),
    );
  }

  function renderLabels() {
    const id = nextId("labels");
    if (!classifier.labels.length) {
      clear(
        labelsSlot,
        h(
          "section",
          { class: "panel", "aria-labelledby": id },
          h("h2", { id }, "Labels"),
          emptyState({
            iconName: "tag",
            title: "No labelled images yet",
            text: `Select images in the gallery and give them a label. Each label needs at least ${MIN_EXAMPLES} images.`,
            actions: [h("a", { class: "button primary", href: `#/?select=${encodeURIComponent(classifier.name)}` }, "Select images in the gallery")],
          }),
        ),
      );
      return;
    }
    clear(
      labelsSlot,
      h(
        "section",
        { class: "panel", "aria-labelledby": id },
        h("h2", { id }, "Labels"),
        h(
          "ul",
          { class: "label-rows" },
          classifier.labels.map((label) => {
            const strip = h("ul", { class: "example-strip", "aria-label": `Examples of ${label.name}` }, spinner());
            loadExamples(label.name, strip);
            const enough = label.examples >= MIN_EXAMPLES;
            return h(
              "li",
              {},
              h(
                "div",
                { class: "label-row-head" },
                h("a", { href: `#/?label=${encodeURIComponent(label.name)}`, class: "label-name", title: `Images predicted ${label.name}` }, label.name),
                h("span", { class: enough ? "muted small" : "warn-text small" }, `${label.examples} ${label.examples === 1 ? "image" : "images"}${enough ? "" : ` · ${MIN_EXAMPLES - label.examples} more needed`}`),
              ),
              strip,
            );
          }),
        ),
      ),
    );
  }

  async function loadExamples(label, strip) {
    try {
      const { items } = await api(`${keyPath(key)}/examples`, { query: { label, limit: 8 }, signal });
      clear(
        strip,
        items.map((example) => {
          const img = h("img", { src: `v1/images/${example.image_id}/thumbnail?size=128`, alt: "", loading: "lazy" });
          img.addEventListener("error", () => img.replaceWith(h("span", { class: "thumb-missing" }, icon("image"))), { once: true });
          const unlabel = h("button", { type: "button", class: "unlabel", "aria-label": `Remove the label ${label} from this image`, title: "Remove label" }, icon("x"));
          unlabel.addEventListener("click", async () => {
            try {
              await api(`${keyPath(key)}/examples`, { method: "DELETE", query: { image_id: example.image_id, label } });
              refresh();
            } catch (error) {
              toast(error.message, "error");
            }
          });
          return h("li", {}, h("a", { href: `#/images/${example.image_id}`, "aria-label": `Example ${example.image_id}` }, img), unlabel);
        }),
      );
    } catch (error) {
      if (error.name !== "AbortError") clear(strip, h("li", { class: "muted small" }, error.message));
    }
  }

  function renderTrain() {
    const id = nextId("train");
    const errorBox = h("div", { class: "form-error", role: "alert", hidden: true });
    // Empty: the server's default (multiclass: the top label, whatever its probability).
    const threshold = h("input", { id: "train-threshold", type: "number", min: 0.05, max: 0.95, step: 0.05, value: classifier.kind === "multiclass" ? "" : 0.5, placeholder: "top label", inputmode: "decimal" });
    const training = versions.some((v) => v.status === "training");
    const button = h("button", { type: "submit", class: "primary", disabled: training }, training ? spinner("Training") : icon("play"), training ? "Training…" : "Train new version");
    const short = classifier.labels.filter((l) => l.examples < MIN_EXAMPLES);
    const form = h(
      "form",
      { class: "panel", "aria-labelledby": id },
      h("h2", { id }, "Train"),
      h(
        "p",
        { class: "muted" },
        short.length
          ? `Each label needs at least ${MIN_EXAMPLES} images: ${short.map((l) => l.name).join(", ")} ${short.length === 1 ? "has" : "have"} fewer.`
          : classifier.kind === "multiclass" && classifier.labels.length < 2
            ? "A classifier with one label per image needs at least two labels."
            : "Trains on the images’ embeddings in a few seconds and reports cross-validated metrics.",
      ),
      h(
        "div",
        { class: "field inline" },
        h("label", { for: "train-threshold" }, "Threshold"),
        threshold,
        h("span", { class: "hint" }, "the probability at which a label counts as predicted"),
      ),
      errorBox,
      h("div", { class: "form-actions" }, button),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      errorBox.hidden = true;
      try {
        const version = await api(`${keyPath(key)}/train`, { method: "POST", json: threshold.value ? { threshold: Number(threshold.value) } : {} });
        shownVersion = version.number;
        setQuery({ version: version.number });
        toast(`Training version ${version.number}…`);
        await refresh();
      } catch (error) {
        const rows = error.details?.labels;
        clear(
          errorBox,
          h("p", {}, error.message),
          rows ? h("ul", {}, rows.map((row) => h("li", {}, `${row.name}: ${row.examples} images`))) : null,
        );
        errorBox.hidden = false;
        button.disabled = false;
      }
    });
    clear(trainSlot, form);
  }

  function renderVersions() {
    const id = nextId("versions");
    if (!versions.length) {
      clear(versionsSlot, h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, "Versions"), h("p", { class: "muted" }, "No version trained yet.")));
      return;
    }
    const published = classifier.published_version;
    const rows = versions.map((version) => {
      const status =
        version.status === "training"
          ? badge("processing", "Training")
          : version.status === "failed"
            ? badge("failed", "Failed")
            : version.number === published
              ? badge("done", "Published")
              : badge("done", "Ready");
      const overall = version.metrics?.overall;
      const actions = [];
      if (version.status === "ready") {
        const showing = version.number === shownVersion;
        actions.push(
          h("button", {
            type: "button",
            class: "small",
            "aria-pressed": String(showing),
            onclick: () => {
              shownVersion = version.number;
              setQuery({ version: version.number });
              render();
            },
          }, "Metrics"),
        );
        if (version.number !== published) {
          actions.push(h("button", { type: "button", class: "small primary", onclick: () => publish(version.number) }, "Publish"));
        }
        actions.push(h("a", { class: "button small ghost", href: `${keyPath(key)}/versions/${version.number}/export`, download: "", "aria-label": `Export version ${version.number} as ONNX` }, icon("download"), "ONNX"));
      }
      return h(
        "tr",
        { dataset: { version: String(version.number) } },
        h("th", { scope: "row" }, `v${version.number}`),
        h("td", {}, status, version.error ? h("p", { class: "error-text small" }, version.error.message) : null),
        h("td", {}, String(version.example_count)),
        h("td", {}, overall ? percent(overall.accuracy ?? overall.precision, 1) : "–"),
        h("td", {}, version.training_seconds !== null ? `${version.training_seconds.toFixed(1)} s` : "–", h("br"), timeEl(version.created_at)),
        h("td", { class: "row-actions" }, actions),
      );
    });
    const publishedExtras = published
      ? h(
          "div",
          { class: "published-tools" },
          h(
            "label",
            { class: "check" },
            h("input", { type: "checkbox", checked: classifier.run_on_upload, onchange: (event) => setRunOnUpload(event.target.checked) }),
            "Run on every new upload",
          ),
          h("button", { type: "button", class: "small ghost", onclick: backfill }, icon("refresh"), "Predict on stored images"),
        )
      : null;
    clear(
      versionsSlot,
      h(
        "section",
        { class: "panel", "aria-labelledby": id },
        h("h2", { id }, "Versions"),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "data" },
            h("thead", {}, h("tr", {}, ["Version", "Status", "Examples", classifier.kind === "multiclass" ? "Accuracy" : "Precision", "Trained", ""].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, rows),
          ),
        ),
        publishedExtras,
      ),
    );
  }

  function metricsVersion() {
    const ready = versions.filter((v) => v.status === "ready" && v.metrics);
    return ready.find((v) => v.number === shownVersion) ?? ready[0];
  }

  function renderMetrics() {
    const version = metricsVersion();
    if (!version) {
      const training = versions.find((v) => v.status === "training");
      clear(metricsSlot, training ? h("div", { class: "state loading" }, spinner("Training"), h("p", {}, `Training version ${training.number}; metrics appear here in a few seconds.`)) : null);
      return;
    }
    shownVersion = version.number;
    clear(metricsSlot, metricsPanel(classifier, version));
  }

  let labelsShown = null;
  function render() {
    document.title = `${classifier.name} · Classifiers · Sightline`;
    renderHead();
    // Labels (and their example thumbnails) only change when labelling does, not while polling.
    const labels = JSON.stringify(classifier.labels);
    if (labels !== labelsShown) renderLabels();
    labelsShown = labels;
    renderTrain();
    shownVersion = metricsVersion()?.number ?? shownVersion;
    renderVersions();
    renderMetrics();
    schedulePoll();
  }

  clear(
    main,
    h(
      "article",
      { class: "classifier-page" },
      head,
      h("div", { class: "two-columns" }, labelsSlot, trainSlot),
      versionsSlot,
      metricsSlot,
    ),
  );
  render();

  const stop = events.on((envelope) => {
    if (envelope.subject === `classifiers/${classifier.id}`) refresh();
  });
  signal.addEventListener("abort", () => {
    stop();
    clearTimeout(pollTimer);
  });
}
