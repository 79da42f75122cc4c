// Zoom and pan of a picture with what is drawn over it. The picture and its overlays sit in one
// canvas that is moved and scaled as a whole, so the overlays stay on what they mark at every
// zoom level. The stage keeps the picture's fitted size; the canvas is clipped by it.

import { h } from "./dom.js";

const MAX_ZOOM = 8;
const BUTTON_STEP = 1.5;
// A wheel notch (about 100 pixels of deltaY) zooms by about a fifth; a trackpad's pinch sends
// small deltas, so it zooms smoothly.
const WHEEL_RATE = 0.002;
const KEY_PAN = 0.1; // of the stage's size, per arrow key press

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

/**
 * Makes `canvas` (the picture and its overlays, filling `stage`) zoomable inside `stage`: wheel
 * and trackpad pinch, two-finger pinch, double-click, the keyboard (+, −, 0, arrows) and the
 * controls this returns; dragging pans a zoomed picture. `dispose()` stops watching the size.
 */
export function zoomable(stage, canvas) {
  // The offset is kept as a fraction of the stage's size, so the same part stays in view when
  // the stage is resized (a rotated phone, a narrower window).
  const view = { zoom: 1, x: 0, y: 0 };
  const pointers = new Map();
  let gesture = null;

  const level = h("output", { class: "zoom-level", "aria-live": "polite" }, "100 %");
  const zoomOutButton = h("button", { type: "button", class: "small ghost", "aria-label": "Zoom out", title: "Zoom out (−)" }, "−");
  const zoomInButton = h("button", { type: "button", class: "small ghost", "aria-label": "Zoom in", title: "Zoom in (+)" }, "+");
  const fitButton = h("button", { type: "button", class: "small ghost", title: "Show the whole picture (0)" }, "Fit");
  const controls = h("div", { class: "zoom-controls", role: "group", "aria-label": "Zoom" }, zoomOutButton, level, zoomInButton, fitButton);

  function size() {
    return { width: stage.clientWidth || 1, height: stage.clientHeight || 1 };
  }

  function apply() {
    const { width, height } = size();
    // The picture always covers the stage: no empty band beside a zoomed picture.
    view.x = clamp(view.x, 1 - view.zoom, 0);
    view.y = clamp(view.y, 1 - view.zoom, 0);
    canvas.style.setProperty("transform", `translate(${view.x * width}px, ${view.y * height}px) scale(${view.zoom})`);
    canvas.style.setProperty("--zoom", String(view.zoom));
    stage.classList.toggle("zoomed", view.zoom > 1);
    level.textContent = `${Math.round(view.zoom * 100)} %`;
    zoomOutButton.disabled = view.zoom <= 1;
    fitButton.disabled = view.zoom <= 1;
    zoomInButton.disabled = view.zoom >= MAX_ZOOM;
  }

  /** Zooms to `zoom`, keeping the point at (`px`, `py`) pixels of the stage where it is. */
  function zoomAt(zoom, px, py) {
    const next = clamp(zoom, 1, MAX_ZOOM);
    if (next === view.zoom) return false;
    const { width, height } = size();
    const fx = px / width;
    const fy = py / height;
    view.x = fx - ((fx - view.x) * next) / view.zoom;
    view.y = fy - ((fy - view.y) * next) / view.zoom;
    view.zoom = next;
    apply();
    return true;
  }

  function zoomCentre(factor) {
    const { width, height } = size();
    zoomAt(view.zoom * factor, width / 2, height / 2);
  }

  function panBy(dx, dy) {
    const { width, height } = size();
    view.x += dx / width;
    view.y += dy / height;
    apply();
  }

  function reset() {
    Object.assign(view, { zoom: 1, x: 0, y: 0 });
    apply();
  }

  function stagePoint(event) {
    const rect = stage.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  zoomInButton.addEventListener("click", () => zoomCentre(BUTTON_STEP));
  zoomOutButton.addEventListener("click", () => zoomCentre(1 / BUTTON_STEP));
  fitButton.addEventListener("click", reset);

  stage.addEventListener(
    "wheel",
    (event) => {
      const pixels = event.deltaMode === WheelEvent.DOM_DELTA_LINE ? event.deltaY * 16 : event.deltaY;
      const point = stagePoint(event);
      // At a limit the wheel scrolls the page as usual.
      if (zoomAt(view.zoom * Math.exp(-pixels * WHEEL_RATE), point.x, point.y)) event.preventDefault();
    },
    { passive: false },
  );

  stage.addEventListener("dblclick", (event) => {
    const point = stagePoint(event);
    if (view.zoom >= MAX_ZOOM) reset();
    else zoomAt(view.zoom * 2, point.x, point.y);
  });

  stage.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const step = KEY_PAN * Math.min(size().width, size().height);
    const actions = {
      "+": () => zoomCentre(BUTTON_STEP),
      "=": () => zoomCentre(BUTTON_STEP),
      "-": () => zoomCentre(1 / BUTTON_STEP),
      "_": () => zoomCentre(1 / BUTTON_STEP),
      0: reset,
      ArrowLeft: () => panBy(step, 0),
      ArrowRight: () => panBy(-step, 0),
      ArrowUp: () => panBy(0, step),
      ArrowDown: () => panBy(0, -step),
    };
    const action = actions[event.key];
    // Arrows scroll the page as usual while the whole picture is shown.
    if (!action || (event.key.startsWith("Arrow") && view.zoom <= 1)) return;
    event.preventDefault();
    action();
  });

  // One pointer drags a zoomed picture; two pinch it. Pointer capture keeps the gesture when
  // the pointer leaves the stage.
  function startGesture() {
    const [first, second] = [...pointers.values()];
    if (!second) {
      gesture = { pinch: false, last: { ...first } };
      return;
    }
    const distance = Math.hypot(first.x - second.x, first.y - second.y) || 1;
    const mid = { x: (first.x + second.x) / 2, y: (first.y + second.y) / 2 };
    gesture = { pinch: true, distance, zoom: view.zoom, mid };
  }

  stage.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    pointers.set(event.pointerId, stagePoint(event));
    if (pointers.size > 2) return;
    if (pointers.size === 1 && view.zoom <= 1) {
      gesture = null; // nothing to drag: a touch scrolls the page
      return;
    }
    stage.setPointerCapture(event.pointerId);
    startGesture();
  });

  stage.addEventListener("pointermove", (event) => {
    if (!pointers.has(event.pointerId)) return;
    pointers.set(event.pointerId, stagePoint(event));
    if (!gesture) return;
    const [first, second] = [...pointers.values()];
    if (gesture.pinch && second) {
      const mid = { x: (first.x + second.x) / 2, y: (first.y + second.y) / 2 };
      const distance = Math.hypot(first.x - second.x, first.y - second.y);
      panBy(mid.x - gesture.mid.x, mid.y - gesture.mid.y);
      zoomAt((gesture.zoom * distance) / gesture.distance, mid.x, mid.y);
      gesture.mid = mid;
    } else if (!gesture.pinch) {
      panBy(first.x - gesture.last.x, first.y - gesture.last.y);
      gesture.last = { ...first };
    }
    stage.classList.add("dragging");
  });

  function endPointer(event) {
    if (!pointers.delete(event.pointerId)) return;
    stage.classList.remove("dragging");
    if (pointers.size && view.zoom > 1) startGesture();
    else gesture = null;
  }
  for (const type of ["pointerup", "pointercancel"]) stage.addEventListener(type, endPointer);

  const resized = new ResizeObserver(() => apply());
  resized.observe(stage);
  apply();

  return {
    controls,
    reset,
    dispose: () => resized.disconnect(),
  };
}
