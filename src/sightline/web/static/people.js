// People and their faces: the people a collection's faces are known as, a review screen of the
// groups (clusters) of faces nobody has named yet (name, merge, split, "not the same"), one
// group's faces, one person's faces and images, and the faces panel of the image page.

import { api, url } from "./api.js";
import { clear, confirmDialog, emptyState, h, icon, nextId, spinner, toast } from "./dom.js";
import { CARD_RESULTS, miniCard } from "./gallery.js";

const PAGE = 50;
const MOST_PEOPLE = 1000; // names offered when naming a group; more are typed in full
const SAMPLE_FACES = 6;
const MOST_CLUSTERS = 200; // the API's largest page: groups loaded again after a change

const personPath = (id) => `v1/people/${encodeURIComponent(id)}`;
const clusterPath = (id) => `v1/faces/clusters/${encodeURIComponent(id)}`;

function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

/** A face cut from its image: a small square the server makes (`/v1/faces/{id}/thumbnail`). */
export function faceImage(face, label) {
  return h("img", {
    src: url(`v1/faces/${encodeURIComponent(face.id ?? face)}/thumbnail`, { size: 128 }),
    alt: label,
    class: "face-img",
    width: 128,
    height: 128,
    loading: "lazy",
    decoding: "async",
  });
}

/** Every person of the collection (the first `MOST_PEOPLE`), for names and captions. */
async function allPeople(signal) {
  const people = [];
  let cursor = null;
  do {
    const page = await api("v1/people", { query: { limit: 200, cursor }, signal });
    people.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && people.length < MOST_PEOPLE);
  return people;
}

/** A list of the people's names for a name field to offer (a <datalist>). */
function peopleList(people) {
  return h("datalist", { id: nextId("people") }, people.map((person) => h("option", { value: person.name })));
}

/**
 * "Who is this?": a name field offering the people's names. A known name is that person (the
 * first of that name); a new one makes a person. Calls `onName({name} | {person_id})`.
 */
function nameForm(people, onName, { label = "Who is this?", button = "Name" } = {}) {
  const names = peopleList(people);
  const id = nextId("name");
  const input = h("input", { id, name: "name", list: names.id, autocomplete: "off", maxlength: 256, required: true, placeholder: "A name" });
  const submit = h("button", { type: "submit", class: "small primary" }, button);
  const form = h("form", { class: "name-form" }, h("label", { for: id, class: "visually-hidden" }, label), input, names, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    const known = people.find((person) => person.name === name);
    submit.disabled = true;
    try {
      await onName(known ? { person_id: known.id, name: known.name } : { name });
    } catch (error) {
      toast(error.message, "error");
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** The head of the two tabs, People and Review faces: the title, a line about it, the tabs. */
function pageHead(active, title, lede) {
  const link = (key, href, text) => h("a", { href, "aria-current": key === active ? "page" : null }, text);
  return [
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, title), h("p", { class: "lede muted" }, lede))),
    h("nav", { class: "subnav", "aria-label": "People" }, link("people", "#/people", "People"), link("review", "#/people/review", "Review faces")),
  ];
}

function faceCaption(face, people) {
  if (face.person_id) {
    const person = people.find((p) => p.id === face.person_id);
    return h(
      "a",
      { href: `#/people/${encodeURIComponent(face.person_id)}`, class: "face-name" },
      person?.name ?? "A person",
      face.enrolled ? null : h("span", { class: "muted small" }, " (matched)"),
    );
  }
  return h("span", { class: "face-name muted" }, "Not named");
}

/** A button that marks the face "not the same" as `what` (once confirmed), then calls `after`. */
function notTheSameButton(face, what, label, after) {
  return h(
    "button",
    {
      type: "button",
      class: "small ghost",
      onclick: async () => {
        const ok = await confirmDialog({
          title: `Not ${what}?`,
          message: `This face leaves ${what} and is never grouped with it again.`,
          confirm: "Not the same",
        });
        if (!ok) return;
        try {
          await api(`v1/faces/${encodeURIComponent(face.id)}/not-the-same`, { method: "POST" });
          await after();
        } catch (error) {
          toast(error.message, "error");
        }
      },
    },
    label,
  );
}

// -- people --------------------------------------------------------------------------------------

function personCard(person) {
  const avatar = h("span", { class: "avatar", "aria-hidden": "true" }, person.name.slice(0, 1).toUpperCase());
  api("v1/faces", { query: { person_id: person.id, limit: 1 } })
    .then(({ items }) => {
      if (items.length) avatar.replaceChildren(faceImage(items[0], ""));
    })
    .catch(() => {}); // the initial stays
  return h(
    "li",
    { class: "list-card person-card" },
    h(
      "a",
      { href: `#/people/${encodeURIComponent(person.id)}` },
      h("span", { class: "list-card-title" }, avatar, h("strong", {}, person.name)),
      h("span", { class: "list-card-meta muted small" }, plural(person.faces, "face"), " · ", plural(person.images, "image")),
    ),
  );
}

export async function renderPeople({ main, signal }) {
  document.title = "People · Sightline";
  const people = await allPeople(signal);
  clear(
    main,
    h(
      "section",
      { class: "people" },
      pageHead("people", "People", "Who appears in your images. Faces are recognised only in images analysed for face descriptors (the face_embedding feature), which the server's operator turns on."),
      people.length
        ? h("ul", { class: "card-list" }, people.map(personCard))
        : emptyState({
            iconName: "user",
            title: "No people yet",
            text: "Name a group of faces on the review screen: new faces like them are then matched to that person.",
            actions: [h("a", { href: "#/people/review", class: "button primary" }, "Review faces")],
          }),
    ),
  );
}

export async function renderPerson({ main, params, signal }) {
  const id = params[0];
  let person = await api(personPath(id), { signal });
  const people = [person];
  const title = h("h1", { class: "truncate" });
  const counts = h("p", { class: "subtitle muted" });
  const facesSlot = h("div", { class: "related" }, spinner("Loading faces"));
  const imagesSlot = h("div", { class: "related" }, spinner("Loading images"));
  const renameSlot = h("div", { class: "form-slot" });

  function renderHead() {
    document.title = `${person.name} · Sightline`;
    title.textContent = person.name;
    title.title = person.name;
    counts.textContent = `${plural(person.faces, "face")} · ${plural(person.images, "image")}`;
  }

  async function reload() {
    person = await api(personPath(id), { signal });
    renderHead();
    await Promise.all([loadFaces(), loadImages()]);
  }

  async function loadFaces() {
    const { items } = await api("v1/faces", { query: { person_id: id, limit: 200 }, signal });
    if (!items.length) {
      clear(facesSlot, h("p", { class: "muted" }, "No faces are known as this person any more."));
      return;
    }
    clear(
      facesSlot,
      h(
        "ul",
        { class: "face-grid" },
        items.map((face) =>
          h(
            "li",
            { class: "face-tile", dataset: { face: face.id } },
            h("a", { href: `#/images/${encodeURIComponent(face.image_id)}`, title: "Open the image" }, faceImage(face, `${person.name}, in image ${face.image_id}`)),
            h("span", { class: "pill" }, face.enrolled ? "named" : "matched"),
            notTheSameButton(face, person.name, "Not this person", async () => {
              toast(`That face is no longer ${person.name}.`);
              await reload();
            }),
          ),
        ),
      ),
    );
  }

  async function loadImages() {
    const { items } = await api(`${personPath(id)}/images`, { query: { limit: PAGE, results: CARD_RESULTS }, signal });
    clear(imagesSlot, items.length ? h("ul", { class: "mini-grid" }, items.map((image) => miniCard(image))) : h("p", { class: "muted" }, "No images."));
  }

  function openRename() {
    const fieldId = nextId("rename");
    const input = h("input", { id: fieldId, name: "name", value: person.name, maxlength: 256, required: true, autocomplete: "off" });
    const form = h(
      "form",
      { class: "inline-form" },
      h("label", { for: fieldId }, "Name"),
      input,
      h("button", { type: "submit", class: "primary small" }, "Save"),
      h("button", { type: "button", class: "ghost small", onclick: () => clear(renameSlot) }, "Cancel"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        person = await api(personPath(person.id), { method: "PATCH", json: { name: input.value.trim() } });
        people[0] = person;
        renderHead();
        clear(renameSlot);
        toast(`Renamed to ${person.name}.`);
      } catch (error) {
        toast(error.message, "error");
      }
    });
    clear(renameSlot, form);
    input.select();
  }

  // Photos of the person alone: each is stored as an image and its face enrolled.
  const photoInput = h("input", { type: "file", accept: "image/*", multiple: true, hidden: true, "aria-label": "Photos of the person" });
  photoInput.addEventListener("change", async () => {
    const files = [...photoInput.files];
    photoInput.value = "";
    if (!files.length) return;
    const form = new FormData();
    for (const file of files) form.append("file", file, file.name);
    try {
      const enrolled = await api(`${personPath(id)}/photos`, { method: "POST", body: form });
      toast(`${plural(enrolled.faces.length, "photo")} added to ${person.name}.`);
      await reload();
    } catch (error) {
      toast(error.message, "error");
    }
  });

  async function remove() {
    const ok = await confirmDialog({
      title: `Delete ${person.name}?`,
      message: `The person and the face descriptors of their ${plural(person.faces, "face")} are deleted; the images stay. This cannot be undone.`,
      confirm: "Delete",
      danger: true,
    });
    if (!ok) return;
    try {
      await api(personPath(person.id), { method: "DELETE" });
      toast(`Deleted ${person.name}.`);
      location.hash = "#/people";
    } catch (error) {
      toast(error.message, "error");
    }
  }

  renderHead();
  clear(
    main,
    h(
      "article",
      { class: "person-page" },
      h(
        "div",
        { class: "page-head" },
        h("div", { class: "title-block" }, h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/people" }, icon("chevron-left"), "People")), title, counts),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", onclick: () => photoInput.click(), title: "Photos of the person alone: each is stored as an image and its face enrolled" }, icon("upload"), h("span", {}, "Add photos")),
          photoInput,
          h("button", { type: "button", onclick: openRename }, "Rename"),
          h("button", { type: "button", class: "danger", onclick: remove }, icon("trash"), h("span", {}, "Delete")),
        ),
      ),
      renameSlot,
      h("section", { class: "panel", "aria-label": "Faces" }, h("h2", {}, "Faces"), facesSlot),
      h("section", { class: "panel", "aria-label": "Images" }, h("h2", {}, "Images"), imagesSlot),
    ),
  );
  await Promise.all([loadFaces(), loadImages()]);
}

// -- review: clusters ----------------------------------------------------------------------------

async function nameCluster(cluster, choice) {
  const person = await api(`${clusterPath(cluster.id)}/name`, {
    method: "POST",
    json: choice.person_id ? { person_id: choice.person_id } : { name: choice.name },
  });
  toast(`${plural(cluster.faces, "face")} named ${person.name}.`);
  return person;
}

function clusterCard(cluster, people, { selected, onChange }) {
  const person = people.find((p) => p.id === cluster.person_id);
  const label = person ? `${person.name}'s group` : `Group of ${plural(cluster.faces, "face")}`;
  const checkbox = h("input", { type: "checkbox", "aria-label": `Select ${label}`, checked: selected.has(cluster.id) });
  checkbox.addEventListener("change", () => {
    if (checkbox.checked) selected.add(cluster.id);
    else selected.delete(cluster.id);
    onChange();
  });
  const who = person
    ? h("p", { class: "cluster-person" }, "Known as ", h("a", { href: `#/people/${encodeURIComponent(person.id)}` }, person.name))
    : nameForm(people, async (choice) => {
        await nameCluster(cluster, choice);
        await onChange(true);
      });
  return h(
    "li",
    { class: "cluster-card", dataset: { cluster: cluster.id } },
    h(
      "div",
      { class: "cluster-head" },
      checkbox,
      h("a", { href: `#/people/clusters/${encodeURIComponent(cluster.id)}`, class: "cluster-title" }, person ? person.name : "Not named", h("span", { class: "muted small" }, ` · ${plural(cluster.faces, "face")}`)),
    ),
    h("ul", { class: "face-strip" }, cluster.sample.slice(0, SAMPLE_FACES).map((faceId) => h("li", {}, faceImage(faceId, `A face of ${label}`)))),
    who,
  );
}

export async function renderReview({ main, query, signal, setQuery }) {
  document.title = "Review faces · Sightline";
  const showAll = query.get("all") === "1";
  const [people, first] = await Promise.all([
    allPeople(signal),
    api("v1/faces/clusters", { query: { limit: PAGE }, signal }),
  ]);
  const clusters = [...first.items];
  let cursor = first.next_cursor;
  const selected = new Set();
  const list = h("ul", { class: "cluster-grid" });
  const more = h("button", { type: "button", class: "ghost", hidden: !cursor }, "More groups");
  const merge = h("button", { type: "button", class: "primary", disabled: true }, "Merge selected");
  const status = h("span", { class: "muted small", role: "status" });
  const all = h("input", { type: "checkbox", checked: showAll });

  const rerender = async (reload = false) => {
    if (reload) {
      const fresh = await api("v1/faces/clusters", { query: { limit: Math.min(MOST_CLUSTERS, Math.max(PAGE, clusters.length)) }, signal });
      clusters.splice(0, clusters.length, ...fresh.items);
      cursor = fresh.next_cursor;
      people.splice(0, people.length, ...(await allPeople(signal)));
      for (const id of [...selected]) if (!clusters.some((c) => c.id === id)) selected.delete(id);
    }
    draw();
  };
  function draw() {
    const shown = clusters.filter((cluster) => all.checked || !cluster.person_id);
    clear(
      list,
      shown.map((cluster) => clusterCard(cluster, people, { selected, onChange: (reload) => (reload ? rerender(true) : counted()) })),
    );
    more.hidden = !cursor;
    if (!shown.length) {
      list.append(
        h(
          "li",
          { class: "empty-row muted" },
          clusters.length ? "Every group is named. Tick “Show named groups” to see them." : "No faces yet. Faces are grouped as images analysed for face descriptors arrive.",
        ),
      );
    }
    counted();
  }
  function counted() {
    merge.disabled = selected.size < 2;
    status.textContent = selected.size ? `${selected.size} selected` : "";
  }
  all.addEventListener("change", () => {
    setQuery({ all: all.checked });
    draw();
  });
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await api("v1/faces/clusters", { query: { limit: PAGE, cursor }, signal });
      clusters.push(...page.items);
      cursor = page.next_cursor;
      draw();
    } catch (error) {
      toast(error.message, "error");
    } finally {
      more.disabled = false;
    }
  });
  merge.addEventListener("click", async () => {
    // Into the largest: the fewest faces move, and a named group keeps its person.
    const chosen = clusters.filter((c) => selected.has(c.id)).sort((a, b) => Boolean(b.person_id) - Boolean(a.person_id) || b.faces - a.faces);
    const [into, ...others] = chosen;
    const ok = await confirmDialog({
      title: `Merge ${chosen.length} groups?`,
      message: `Their ${plural(chosen.reduce((sum, c) => sum + c.faces, 0), "face")} become one group: say so only when they are all the same person.`,
      confirm: "Merge",
    });
    if (!ok) return;
    try {
      await api(`${clusterPath(into.id)}/merge`, { method: "POST", json: { cluster_ids: others.map((c) => c.id) } });
      selected.clear();
      toast(`Merged ${chosen.length} groups.`);
      await rerender(true);
    } catch (error) {
      toast(error.message, "error");
    }
  });

  clear(
    main,
    h(
      "section",
      { class: "review" },
      pageHead("review", "Review faces", "Faces that look alike are grouped as they arrive. Name a group to make it a person, tick groups of one person to merge them, or open a group to take out the faces that are someone else."),
      h("div", { class: "panel-tools review-tools" }, h("label", { class: "check" }, all, "Show named groups"), status, merge),
      list,
      h("div", { class: "more" }, more),
    ),
  );
  draw();
}

export async function renderCluster({ main, params, signal }) {
  const id = params[0];
  let [cluster, people] = await Promise.all([api(clusterPath(id), { signal }), allPeople(signal)]);
  const selected = new Set();
  const title = h("h1", { class: "truncate" });
  const counts = h("p", { class: "subtitle muted" });
  const who = h("div", { class: "cluster-who" });
  const grid = h("ul", { class: "face-grid" });
  const split = h("button", { type: "button", disabled: true }, "Split off selected");

  async function reload() {
    try {
      cluster = await api(clusterPath(id), { signal });
    } catch (error) {
      if (error.status !== 404) throw error;
      toast("The group has no faces left.");
      location.hash = "#/people/review";
      return;
    }
    people = await allPeople(signal);
    await draw();
  }

  async function draw() {
    const person = people.find((p) => p.id === cluster.person_id);
    document.title = `${person ? person.name : "Group of faces"} · Sightline`;
    title.textContent = person ? `${person.name}'s group` : "Group of faces, not named";
    counts.textContent = plural(cluster.faces, "face");
    clear(
      who,
      person
        ? h("p", {}, "Known as ", h("a", { href: `#/people/${encodeURIComponent(person.id)}` }, person.name), ".")
        : nameForm(people, async (choice) => {
            await nameCluster(cluster, choice);
            await reload();
          }),
    );
    const { items } = await api("v1/faces", { query: { cluster_id: id, limit: 200 }, signal });
    for (const faceId of [...selected]) if (!items.some((f) => f.id === faceId)) selected.delete(faceId);
    clear(
      grid,
      items.map((face, index) => {
        const checkbox = h("input", { type: "checkbox", "aria-label": `Select face ${index + 1}`, checked: selected.has(face.id) });
        checkbox.addEventListener("change", () => {
          if (checkbox.checked) selected.add(face.id);
          else selected.delete(face.id);
          split.disabled = !selected.size || selected.size === items.length;
        });
        return h(
          "li",
          { class: "face-tile", dataset: { face: face.id } },
          h("label", { class: "face-select" }, checkbox, faceImage(face, `Face ${index + 1}`)),
          faceCaption(face, people),
          h("a", { href: `#/images/${encodeURIComponent(face.image_id)}`, class: "small" }, "Open image"),
          notTheSameButton(face, "this group", "Not the same", async () => {
            toast("The face left the group.");
            await reload();
          }),
        );
      }),
    );
    split.disabled = !selected.size || selected.size === items.length;
  }

  split.addEventListener("click", async () => {
    try {
      const made = await api(`${clusterPath(id)}/split`, { method: "POST", json: { face_ids: [...selected] } });
      selected.clear();
      toast(`${plural(made.faces, "face")} split into a group of their own.`, "info", {
        action: { href: `#/people/clusters/${encodeURIComponent(made.id)}`, label: "Open it" },
      });
      await reload();
    } catch (error) {
      toast(error.message, "error");
    }
  });

  clear(
    main,
    h(
      "article",
      { class: "cluster-page" },
      h(
        "div",
        { class: "page-head" },
        h("div", { class: "title-block" }, h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/people/review" }, icon("chevron-left"), "Review faces")), title, counts),
        h("div", { class: "actions" }, split),
      ),
      who,
      h("p", { class: "muted small" }, "Tick the faces that are someone else and split them off, or mark one face “Not the same”."),
      grid,
    ),
  );
  await draw();
}

// -- the image page's panel ----------------------------------------------------------------------

/**
 * The faces of an image analysed for face descriptors, each with who it is, a link to its group
 * and "not the same"; `highlight(box | null)` marks a face on the picture while pointed at.
 */
export function imageFaces(imageId, highlight, signal) {
  const body = h("div", { class: "related" }, spinner("Loading faces"));
  async function load() {
    const [{ items }, people] = await Promise.all([
      api("v1/faces", { query: { image_id: imageId, limit: 200 }, signal }),
      allPeople(signal),
    ]);
    if (!items.length) {
      clear(body, h("p", { class: "muted" }, "No face descriptors in this image."));
      return;
    }
    clear(
      body,
      h(
        "ul",
        { class: "face-grid compact" },
        items.map((face, index) => {
          const tile = h(
            "li",
            { class: "face-tile", tabindex: "0", dataset: { face: face.id } },
            faceImage(face, `Face ${index + 1}`),
            faceCaption(face, people),
            face.person_id
              ? null
              : nameForm(people, async (choice) => {
                  if (choice.person_id) {
                    await api(`${personPath(choice.person_id)}/faces`, { method: "POST", json: { face_ids: [face.id] } });
                  } else {
                    await api("v1/people", { method: "POST", json: { name: choice.name, face_ids: [face.id] } });
                  }
                  toast(`Named ${choice.name}.`);
                  await load();
                }),
            face.cluster_id
              ? h("a", { href: `#/people/clusters/${encodeURIComponent(face.cluster_id)}`, class: "small" }, "Its group")
              : null,
            face.person_id ? notTheSameButton(face, "this person", "Not this person", load) : null,
          );
          for (const type of ["mouseenter", "focusin"]) tile.addEventListener(type, () => highlight(face.box));
          for (const type of ["mouseleave", "focusout"]) tile.addEventListener(type, () => highlight(null));
          return tile;
        }),
      ),
    );
  }
  load().catch((error) => {
    if (error.name === "AbortError") return;
    clear(body, h("p", { class: "muted" }, error.message));
  });
  return body;
}
