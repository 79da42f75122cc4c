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

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ID_PREFIX = "clf_"; // a name never looks like a classifier's id
const MAX_DESCRIPTION = 1024;

/** What is wrong with a name, in words, or null when the server would take it. */
function nameProblem(name) {
  if (!name) return "Give the classifier a name.";
  if (name.length > 64) return "Use at most 64 characters.";
  if (!NAME_PATTERN.test(name)) return "Use only letters, digits, “_”, “-” and “.”, starting with a letter or a digit (no spaces).";
  if (name.startsWith(ID_PREFIX)) return `A name cannot start with “${ID_PREFIX}”: that is how classifier ids start.`;
  return null;
}

function createForm({ onCreated, onCancel }) {
  const errorBox = h("p", { class: "form-error", role: "alert", hidden: true });
  const nameError = h("p", { class: "field-error error-text small", id: "classifier-name-error", role: "alert", hidden: true });
  const name = h("input", {
    id: "classifier-name",
    name: "name",
    maxlength: 64,
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "classifier-name-hint classifier-name-error",
  });
  const description = h("input", { id: "classifier-description", name: "description", autocomplete: "off", maxlength: MAX_DESCRIPTION });
  const kindName = nextId("kind");
  const kindOption = (value) =>
    h(
      "label",
      { class: "choice" },
      h("input", { type: "radio", name: kindName, value, checked: value === "multiclass" }),
      h("span", {}, h("strong", {}, KINDS[value].title), h("span", { class: "muted small" }, KINDS[value].text)),
    );
  const submit = h("button", { type: "submit", class: "primary" }, icon("plus"), "Create classifier");
  const cancel = h("button", { type: "button", class: "ghost", onclick: onCancel }, "Cancel");
  const showNameError = (message) => {
    nameError.textContent = message ?? "";
    nameError.hidden = !message;
    name.setAttribute("aria-invalid", String(Boolean(message)));
  };
  name.addEventListener("input", () => {
    if (!nameError.hidden) showNameError(nameProblem(name.value.trim()));
  });
  // Our own checks and words, next to the field, rather than the browser's bubbles.
  const form = h(
    "form",
    { class: "panel form-panel", "aria-labelledby": "new-classifier-title", novalidate: true },
    h("h2", { id: "new-classifier-title" }, "New classifier"),
    h(
      "div",
      { class: "field" },
      h("label", { for: "classifier-name" }, "Name"),
      name,
      nameError,
      h("p", { class: "hint", id: "classifier-name-hint" }, "Letters, digits, “_”, “-” and “.”. Its predictions appear on images under this name."),
    ),
    h("fieldset", { class: "field choices" }, h("legend", {}, "Kind"), kindOption("multiclass"), kindOption("multilabel")),
    h("div", { class: "field" }, h("label", { for: "classifier-description" }, "Description ", h("span", { class: "muted" }, "(optional)")), description),
    errorBox,
    h("div", { class: "form-actions" }, cancel, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    const wanted = name.value.trim();
    const problem = nameProblem(wanted);
    showNameError(problem);
    if (problem) {
      name.focus();
      return;
    }
    submit.disabled = true;
    try {
      const kind = form.querySelector(`input[name="${kindName}"]:checked`).value;
      const created = await api("v1/classifiers", {
        method: "POST",
        json: { name: wanted, kind, description: description.value.trim() },
      });
      onCreated(created);
    } catch (error) {
      if (error.code === "ClassifierExists") {
        showNameError(`A classifier named “${wanted}” exists already: choose another name.`);
        name.focus();
      } else if (error.code === "InvalidParameter" && error.details?.name !== undefined) {
        showNameError(nameProblem(wanted) ?? error.message);
        name.focus();
      } else {
        errorBox.textContent = error.message;
        errorBox.hidden = false;
      }
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
  const opened = (created) => (location.hash = `#/classifiers/${encodeURIComponent(created.name)}`);
  // Opens the form, or brings it forward when it is open already: never closes it.
  const openForm = () => {
    if (!formSlot.firstChild) {
      clear(formSlot, createForm({ onCreated: opened, onCancel: closeForm }));
      inviting.hidden = true; // the form is the invitation now
    }
    formSlot.scrollIntoView({ block: "nearest" });
    formSlot.querySelector("input").focus();
  };
  const closeForm = () => {
    clear(formSlot);
    inviting.hidden = false;
    (items.length ? toggle : inviting).focus();
  };
  const toggle = h("button", { type: "button", class: "primary", onclick: openForm }, icon("plus"), h("span", {}, "New classifier"));
  const inviting = h("button", { type: "button", class: "primary", onclick: openForm }, icon("plus"), "Create your first classifier");
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
        // With none yet, the invitation below is the one action.
        items.length ? h("div", { class: "actions" }, toggle) : null,
      ),
      formSlot,
      items.length
        ? h("ul", { class: "card-list" }, items.map(classifierCard))
        : h("div", { class: "state empty" }, h("div", { class: "state-icon" }, icon("layers")), h("h2", {}, "No classifiers yet"), steps, h("div", { class: "state-actions" }, inviting)),
    ),
  );
  if (query.has("new")) openForm();
}

// -- one classifier ------------------------------------------------------------------------------

/** A prediction's labels, best first, each with its probability as a bar. */
function predictionList(verdict) {
  return h(
    "ul",
    { class: "prediction-list", "aria-label": "Predicted labels" },
    verdict.labels.map((label) => {
      const predicted = verdict.predicted.includes(label.name);
      const bar = h("span", { class: "bar-fill" });
      bar.style.setProperty("--value", String(label.confidence));
      return h(
        "li",
        { class: predicted ? "predicted" : null, dataset: { label: label.name } },
        h("span", { class: "prediction-name" }, label.name, predicted ? badge("done", "Predicted") : null),
        h("span", { class: "bar", "aria-hidden": "true" }, bar),
        h("span", { class: "prediction-value" }, percent(label.confidence, 1)),
      );
    }),
  );
}

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

const HEAD_INPUTS = {
  embedding: "the picture’s similarity vector",
  pixels: "the pixels",
  hog: "the picture’s outlines",
  "embedding+hog": "the similarity vector and outlines",
  "embedding+early": "the similarity vector and fine detail",
};
const HEAD_MODELS = {
  linear: "a linear model",
  kernel: "a model comparing with the examples",
  neighbours: "the nearest examples",
};
const AUGMENTATIONS = { shift: "shifted copies", flip: "mirrored copies" };

/** A candidate head (`hog/linear+shift`) in words: what it reads and how it decides. */
function headWords(candidate) {
  const reads = HEAD_INPUTS[candidate.input] ?? candidate.input;
  const model = HEAD_MODELS[candidate.model] ?? candidate.model;
  const copies = candidate.augmentation ? `, also learning from ${AUGMENTATIONS[candidate.augmentation] ?? candidate.augmentation}` : "";
  return `${model} on ${reads}${copies}`;
}

function headNote(head) {
  const chosen = head.candidates.find((candidate) => candidate.name === head.chosen);
  if (!chosen) return null;
  const score = (c) => percent(c.cv_accuracy ?? c.cv_mean_average_precision);
  const by = head.selected_by === "accuracy" ? "accuracy" : "mean average precision";
  return h(
    "details",
    { class: "head-note small" },
    h("summary", {}, `Decides with ${headWords(chosen)}: the best of ${head.candidates.length} ways tried, by ${by}.`),
    h("ul", {}, head.candidates.map((c) => h("li", { title: c.name }, `${headWords(c)}: ${score(c)}`))),
  );
}

/** The misclassified images behind each cell off the confusion matrix's diagonal. */
function misclassifiedPanel(confusion) {
  const wrong = confusion.misclassified;
  const offDiagonal = confusion.matrix.some((row, r) => row.some((value, c) => r !== c && value));
  if (!offDiagonal) return { panel: h("p", { class: "muted small" }, "Every example was classified right in cross-validation."), open: () => {} };
  if (!wrong) return { panel: h("p", { class: "muted small" }, "Train a new version to see which images were misclassified."), open: () => {} };
  const groups = new Map();
  for (const item of wrong) {
    const key = JSON.stringify([item.actual, item.predicted]);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(item);
  }
  const cells = new Map();
  const list = h(
    "div",
    { class: "misclassified" },
    [...groups.values()].map((items) => {
      const { actual, predicted } = items[0];
      const thumbs = h("ul", { class: "example-strip wrap", "aria-label": `${actual} taken for ${predicted}` });
      const details = h(
        "details",
        { class: "cell-images" },
        h("summary", {}, h("strong", {}, actual), " taken for ", h("strong", {}, predicted), ` · ${items.length} ${items.length === 1 ? "image" : "images"}`),
        thumbs,
      );
      // Thumbnails load when a group is first opened, not for every group at once.
      details.addEventListener("toggle", () => {
        if (!details.open || thumbs.childElementCount) return;
        clear(
          thumbs,
          items.map((item) => {
            const img = h("img", { src: `v1/images/${item.image_id}/thumbnail?size=128`, alt: `${actual}, predicted ${predicted} (${percent(item.confidence)})`, loading: "lazy" });
            img.addEventListener("error", () => img.replaceWith(h("span", { class: "thumb-missing" }, icon("image"))), { once: true });
            return h("li", {}, h("a", { href: `#/images/${item.image_id}`, title: `Predicted ${predicted} at ${percent(item.confidence)}` }, img), h("span", { class: "small muted" }, percent(item.confidence)));
          }),
        );
      });
      cells.set(JSON.stringify([actual, predicted]), details);
      return details;
    }),
  );
  const open = (actual, predicted) => {
    const details = cells.get(JSON.stringify([actual, predicted]));
    if (!details) return;
    details.open = true;
    details.scrollIntoView({ block: "nearest", behavior: "smooth" });
    details.querySelector("summary").focus({ preventScroll: true });
  };
  return {
    panel: h("div", {}, h("h3", {}, "Misclassified images"), h("p", { class: "muted small" }, "Open a group, or a cell off the diagonal, to see the images."), list),
    open,
    has: (actual, predicted) => cells.has(JSON.stringify([actual, predicted])),
  };
}

function metricsPanel(classifier, version) {
  const id = nextId("metrics");
  const metrics = version.metrics;
  const cv = metrics.cross_validation;
  const confusion = metrics.confusion_matrix;
  const misclassified = confusion?.matrix ? misclassifiedPanel(confusion) : null;
  return h(
    "section",
    { class: "panel metrics", "aria-labelledby": id },
    h("h2", { id }, `Metrics of version ${version.number}`),
    h(
      "p",
      { class: "muted small" },
      `Cross-validated${cv ? ` over ${cv.folds} folds of ${cv.examples} examples` : ""}; ${version.threshold > 0 ? `a label counts as predicted at ${percent(version.threshold)} or more` : "the top label is predicted whatever its probability"}.`,
    ),
    metrics.head ? headNote(metrics.head) : null,
    metricTiles(version),
    h("div", { class: "chart-grid" },
      h("div", {}, h("h3", {}, "Precision and recall per label"), precisionRecallChart(metrics.labels)),
      confusion?.matrix
        ? h("div", {}, h("h3", {}, "Confusion matrix"), confusionMatrixChart(confusion, misclassified), misclassified.panel)
        : confusion?.per_label
          ? h("div", {}, h("h3", {}, "Outcomes per label"), outcomeTable(confusion.per_label))
          : null,
    ),
  );
}

/** Each label's count of examples, and the labels too short of them to train, in words. */
function trainingBlocker(classifier) {
  const labels = classifier.labels;
  if (!labels.length) return `Label images first: each label needs at least ${MIN_EXAMPLES} examples.`;
  if (classifier.kind === "multiclass" && labels.length < 2) {
    return `Add a second label: a classifier with one label per image needs at least two (${labels[0].name} is the only one).`;
  }
  const short = labels.filter((l) => l.examples < MIN_EXAMPLES);
  if (short.length) {
    return `Add at least ${MIN_EXAMPLES} examples of each label: ${short.map((l) => `${l.name} has ${l.examples}`).join(", ")}.`;
  }
  if (classifier.kind === "multilabel") {
    // A multilabel label also needs examples without it to learn what it is not.
    const everywhere = labels.filter((l) => classifier.example_count - l.examples < MIN_EXAMPLES);
    if (everywhere.length) {
      return `Each label needs at least ${MIN_EXAMPLES} labelled images without it too: ${everywhere.map((l) => `${l.name} is missing from ${classifier.example_count - l.examples}`).join(", ")}.`;
    }
  }
  return null;
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
  const testSlot = h("div");
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
    const blocker = trainingBlocker(classifier);
    const reasonId = nextId("train-reason");
    const button = h(
      "button",
      { type: "submit", class: "primary", disabled: training || Boolean(blocker), "aria-describedby": reasonId },
      training ? spinner("Training") : icon("play"),
      training ? "Training…" : "Train new version",
    );
    const form = h(
      "form",
      { class: "panel train", "aria-labelledby": id },
      h("h2", { id }, "Train"),
      h(
        "p",
        { id: reasonId, class: blocker ? "warn-text train-reason" : "muted train-reason" },
        blocker ?? "Trains on the images’ embeddings in a few seconds and reports cross-validated metrics.",
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
    const columns = ["Version", "Status", "Examples", classifier.kind === "multiclass" ? "Accuracy" : "Precision", "Trained", ""];
    // On a phone each row becomes a block, each cell headed by its column's name.
    const cell = (label, ...content) => h("td", { dataset: { label } }, h("div", {}, ...content));
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
        h("th", { scope: "row" }, `Version ${version.number}`),
        cell(columns[1], status, version.error ? h("p", { class: "error-text small" }, version.error.message) : null),
        cell(columns[2], String(version.example_count)),
        cell(columns[3], overall ? percent(overall.accuracy ?? overall.precision, 1) : "–"),
        cell(columns[4], version.training_seconds !== null ? `${version.training_seconds.toFixed(1)} s, ` : "", timeEl(version.created_at)),
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
            { class: "data stackable versions" },
            h("thead", {}, h("tr", {}, columns.map((t) => h("th", { scope: "col" }, t)))),
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

  /** The version a quick test asks: the published one, else the one whose metrics show. */
  function testedVersion() {
    return classifier.published_version ?? metricsVersion()?.number ?? null;
  }

  function renderQuickTest() {
    const id = nextId("quick-test");
    const number = testedVersion();
    const panel = h("section", { class: "panel quick-test", "aria-labelledby": id }, h("h2", { id }, "Quick test"));
    if (number === null) {
      clear(testSlot, panel);
      panel.append(h("p", { class: "muted" }, "Once a version is trained, try it here on any image."));
      return;
    }
    const inputId = nextId("test-file");
    const input = h("input", { type: "file", id: inputId, accept: "image/*", class: "visually-hidden" });
    const result = h("div", { class: "test-result", "aria-live": "polite" });
    const zone = h(
      "div",
      { class: "test-drop" },
      icon("upload"),
      h("p", {}, "Drop an image here, or ", h("label", { for: inputId, class: "button small" }, "choose one")),
      input,
    );
    let tries = 0;
    const test = async (file) => {
      if (!file) return;
      const attempt = ++tries; // only the latest image's answer is shown
      const preview = h("img", { src: URL.createObjectURL(file), alt: file.name, class: "test-preview" });
      preview.addEventListener("load", () => URL.revokeObjectURL(preview.src), { once: true });
      preview.addEventListener("error", () => {
        URL.revokeObjectURL(preview.src);
        preview.replaceWith(h("span", { class: "test-preview thumb-missing", role: "img", "aria-label": file.name }, icon("image")));
      }, { once: true });
      const waiting = spinner("Predicting");
      const picture = h("div", { class: "test-picture" }, preview, waiting);
      clear(result, picture);
      try {
        const form = new FormData();
        form.append("file", file, file.name);
        const verdict = await api(`${keyPath(key)}/predict`, { method: "POST", query: { version: number }, body: form, signal });
        if (attempt === tries) result.append(predictionList(verdict));
      } catch (error) {
        if (error.name === "AbortError" || attempt !== tries) return;
        result.append(h("p", { class: "form-error", role: "alert" }, `${file.name}: ${error.message}`));
      } finally {
        waiting.remove();
      }
    };
    input.addEventListener("change", () => {
      test(input.files[0]);
      input.value = "";
    });
    const hasFiles = (event) => event.dataTransfer?.types?.includes("Files");
    zone.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      test(event.dataTransfer?.files?.[0]);
    });
    panel.append(
      h("p", { class: "muted small" }, `What version ${number}${number === classifier.published_version ? " (published)" : ""} predicts for one image. The image is not stored.`),
      zone,
      result,
    );
    clear(testSlot, panel);
  }

  let labelsShown = null;
  let testShown = null;
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
    // Kept while polling: a test's answer stays until the tested version changes.
    if (testedVersion() !== testShown || !testSlot.firstChild) renderQuickTest();
    testShown = testedVersion();
    schedulePoll();
  }

  clear(
    main,
    h(
      "article",
      { class: "classifier-page" },
      head,
      h("div", { class: "two-columns" }, labelsSlot, h("div", { class: "stack" }, trainSlot, testSlot)),
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
