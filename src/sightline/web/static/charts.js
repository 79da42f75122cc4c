// Charts of a classifier version's cross-validated metrics: per-label precision and recall
// bars, and the confusion matrix (SVG). Each comes with the same figures as a table for screen
// readers.

import { h, nextId, percent, s } from "./dom.js";

function short(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

function hiddenTable(caption, headers, rows) {
  // Hidden by a wrapper: a table ignores `overflow`, so it would widen the page on a phone.
  return h(
    "div",
    { class: "visually-hidden" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((cell) => h("th", { scope: "col" }, cell)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell, i) => (i === 0 ? h("th", { scope: "row" }, cell) : h("td", {}, cell)))))),
    ),
  );
}

/**
 * Horizontal bars: precision and recall of each label, 0 to 100 %. Drawn in HTML rather than
 * SVG so that its words keep their size and wrap on a phone instead of shrinking with it.
 */
export function precisionRecallChart(labels) {
  const bar = (kind, label, value) => {
    const fill = h("span", { class: `bar-fill bar-${kind}` });
    fill.style.setProperty("--value", String(value ?? 0));
    return h(
      "span",
      { class: "pr-bar", title: `${label.name} ${kind}: ${percent(value)}` },
      h("span", { class: "bar" }, fill),
      h("span", { class: "bar-value" }, value === null || value === undefined ? "–" : percent(value)),
    );
  };
  return h(
    "figure",
    { class: "chart-figure" },
    h(
      "div",
      { class: "chart pr-chart", role: "img", "aria-label": "Precision and recall per label" },
      labels.map((label) =>
        h(
          "div",
          { class: "pr-row", dataset: { label: label.name } },
          h("span", { class: "pr-label" }, label.name),
          h("span", { class: "pr-bars" }, bar("precision", label, label.precision), bar("recall", label, label.recall)),
        ),
      ),
    ),
    h(
      "figcaption",
      { class: "legend" },
      h("span", { class: "key key-precision" }, "Precision"),
      h("span", { class: "key key-recall" }, "Recall"),
    ),
    hiddenTable(
      "Precision and recall per label",
      ["Label", "Examples", "Precision", "Recall", "Average precision"],
      labels.map((l) => [l.name, String(l.examples), percent(l.precision), percent(l.recall), percent(l.average_precision)]),
    ),
  );
}

/**
 * The confusion matrix of a multiclass version: actual labels in rows, predicted in columns.
 * A click on a cell whose images `cells` knows (`has(actual, predicted)`) opens them
 * (`open(actual, predicted)`); the keyboard reaches the same images through that list.
 */
export function confusionMatrixChart(confusion, cells) {
  const { labels, matrix } = confusion;
  const n = labels.length;
  const cell = n > 8 ? 36 : 52;
  const left = 120;
  const longest = Math.min(12, Math.max(...labels.map((label) => label.length)));
  const top = 34 + longest * 5.5; // room for the slanted column labels
  const width = left + n * cell + 12;
  const height = top + n * cell + 12;
  const titleId = nextId("matrix-title");
  const svg = s(
    "svg",
    { class: "chart confusion", viewBox: `0 0 ${width} ${height}`, width, role: "img", "aria-labelledby": titleId },
    s("title", { id: titleId }, "Confusion matrix: actual labels in rows, predicted labels in columns"),
    s("text", { x: left + (n * cell) / 2, y: 14, class: "axis-title", "text-anchor": "middle" }, "Predicted"),
    s("text", { x: 12, y: top + (n * cell) / 2, class: "axis-title", "text-anchor": "middle", transform: `rotate(-90 12 ${top + (n * cell) / 2})` }, "Actual"),
  );
  labels.forEach((label, column) => {
    const cx = left + column * cell + cell / 2;
    svg.append(
      s("text", { x: cx, y: top - 8, class: "col-label", transform: `rotate(-40 ${cx} ${top - 8})` },
        s("title", {}, label), short(label, 12)),
    );
  });
  matrix.forEach((row, r) => {
    const total = row.reduce((sum, value) => sum + value, 0) || 1;
    const cy = top + r * cell;
    svg.append(
      s("text", { x: left - 8, y: cy + cell / 2, class: "row-label", "text-anchor": "end", "dominant-baseline": "middle" },
        s("title", {}, labels[r]), short(labels[r], 14)),
    );
    row.forEach((value, c) => {
      const share = value / total;
      const diagonal = r === c;
      const opens = Boolean(value && cells?.has?.(labels[r], labels[c]));
      svg.append(
        s(
          "g",
          {
            class: ["cell", diagonal ? "diagonal" : "off", opens && "opens"],
            dataset: { actual: labels[r], predicted: labels[c] },
            onclick: opens ? () => cells.open(labels[r], labels[c]) : null,
          },
          s("title", {}, `Actual ${labels[r]}, predicted ${labels[c]}: ${value} (${percent(share)} of ${labels[r]})`),
          s("rect", {
            x: left + c * cell + 1,
            y: cy + 1,
            width: cell - 2,
            height: cell - 2,
            rx: 4,
            class: "cell-bg",
          }),
          s("rect", {
            x: left + c * cell + 1,
            y: cy + 1,
            width: cell - 2,
            height: cell - 2,
            rx: 4,
            class: "cell-fill",
            // At most 40 %: the count stays readable (WCAG AA) on the tint in both themes.
            "fill-opacity": value ? 0.08 + 0.32 * share : 0,
          }),
          s("text", {
            x: left + c * cell + cell / 2,
            y: cy + cell / 2,
            class: "cell-value",
            "text-anchor": "middle",
            "dominant-baseline": "central",
          }, String(value)),
        ),
      );
    });
  });
  return h(
    "figure",
    { class: "chart-figure" },
    svg,
    h("figcaption", { class: "muted small" }, "Rows: the true label. Columns: what the classifier predicted in cross-validation. The diagonal is right."),
    hiddenTable(
      "Confusion matrix",
      ["Actual \\ predicted", ...labels],
      matrix.map((row, r) => [labels[r], ...row.map(String)]),
    ),
  );
}

/** Per-label outcome counts of a multilabel version. */
export function outcomeTable(perLabel) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "data" },
      h("caption", { class: "visually-hidden" }, "Outcomes per label"),
      h("thead", {}, h("tr", {}, ["Label", "True positives", "False positives", "False negatives", "True negatives"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, perLabel.map((row) => h("tr", {}, h("th", { scope: "row" }, row.name), h("td", {}, row.tp), h("td", {}, row.fp), h("td", {}, row.fn), h("td", {}, row.tn)))),
    ),
  );
}
