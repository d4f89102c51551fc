// Territory search with autocompletion, on every input[data-territory-search].
//
// An ARIA 1.2 combobox: the suggestions come from /api/territories as one types
// (names without accents or case, codes, postcodes); Up/Down move in the list, Enter
// opens the chosen territory (or submits the form to /recherche when none is chosen),
// Escape closes the list. data-territory-search="portrait" opens the portrait;
// "event" dispatches a cohesion:territory event on the input instead.

import { escapeHtml, LEVEL_LABELS } from "./format.js";

const DELAY_MS = 120;
let counter = 0;

function setup(input) {
  const id = `suggestions-${++counter}`;
  const list = document.createElement("ul");
  list.id = id;
  list.className = "recherche-liste";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Territoires suggérés");
  list.hidden = true;
  input.after(list);
  const status = document.createElement("p");
  status.className = "fr-sr-only";
  status.setAttribute("role", "status");
  list.after(status);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", id);

  let results = [];
  let active = -1;
  let timer = null;
  let controller = null;

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };

  const highlight = (index) => {
    active = index;
    for (const [i, item] of [...list.children].entries()) {
      item.setAttribute("aria-selected", String(i === index));
    }
    if (index >= 0) {
      const item = list.children[index];
      input.setAttribute("aria-activedescendant", item.id);
      item.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  };

  const choose = (territory) => {
    close();
    if (input.dataset.territorySearch === "event") {
      input.value = "";
      const chosen = new CustomEvent("cohesion:territory", { detail: territory, bubbles: true });
      input.dispatchEvent(chosen);
    } else {
      input.value = territory.name;
      location.href = `/territoire/${territory.id}`;
    }
  };

  const render = () => {
    list.replaceChildren(...results.map((territory, i) => {
      const item = document.createElement("li");
      item.id = `${id}-${i}`;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      const label = LEVEL_LABELS[territory.level] ?? territory.level;
      // namesakes (Saint-Denis…) are told apart by their département
      const place = territory.departement_name
        ? ` · ${territory.departement_name} (${territory.departement})` : "";
      item.innerHTML = `<span class="recherche-nom">${escapeHtml(territory.name)}</span>
        <span class="recherche-detail">${escapeHtml(`${label} · ${territory.code}${place}`)}</span>`;
      item.addEventListener("mousedown", (event) => event.preventDefault());
      item.addEventListener("click", () => choose(territory));
      return item;
    }));
    if (!results.length) {
      const item = document.createElement("li");
      item.className = "recherche-vide";
      item.textContent = "Aucun territoire trouvé";
      item.setAttribute("aria-disabled", "true");
      list.append(item);
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    const plural = results.length > 1 ? "s" : "";
    status.textContent = results.length
      ? `${results.length} territoire${plural} suggéré${plural}` : "Aucun territoire trouvé";
    active = -1;
  };

  const search = async () => {
    const text = input.value.trim();
    if (text.length < 2) { results = []; close(); return; }
    controller?.abort();
    controller = new AbortController();
    try {
      const query = new URLSearchParams({ q: text, limit: "8" });
      if (input.dataset.vintage) query.set("vintage", input.dataset.vintage);
      const response = await fetch(`/api/territories?${query}`, { signal: controller.signal });
      if (!response.ok) { results = []; close(); return; }
      results = await response.json();
      if (document.activeElement === input) render();
    } catch (error) {
      if (error.name !== "AbortError") close();
    }
  };

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, DELAY_MS);
  });
  input.addEventListener("keydown", (event) => {
    const open = !list.hidden && results.length > 0;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (!open) { search(); return; }
      highlight((active + 1) % results.length);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (open) highlight(active <= 0 ? results.length - 1 : active - 1);
    } else if (event.key === "Enter") {
      if (open && active >= 0) {
        event.preventDefault();
        choose(results[active]);
      } else if (input.dataset.territorySearch === "event") {
        event.preventDefault();
        if (results.length) choose(results[0]);
      }
    } else if (event.key === "Escape") {
      if (!list.hidden) { event.preventDefault(); close(); }
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
}

for (const input of document.querySelectorAll("input[data-territory-search]")) setup(input);
