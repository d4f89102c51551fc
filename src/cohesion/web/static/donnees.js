// Data page: upload an official file to /api/datasets with progress (XMLHttpRequest,
// whose upload events fetch does not offer). The administrator token is read from the
// form at submission and sent in the Authorization header; it is never stored.

import { escapeHtml, formatNumber } from "./format.js";

const form = document.getElementById("import-form");
const progress = document.getElementById("import-progression");
const bar = document.getElementById("import-barre");
const barLabel = document.getElementById("import-barre-label");
const result = document.getElementById("import-resultat");
const button = document.getElementById("import-bouton");

function alert(kind, title, body) {
  result.innerHTML = `<div class="fr-alert fr-alert--${kind} fr-mt-2w">
    <h3 class="fr-alert__title">${escapeHtml(title)}</h3>${body}</div>`;
}

function problem(message) {
  for (const field of [form.elements.file, form.elements.token]) {
    if (!field.value) {
      field.focus();
      return alert("error", "Formulaire incomplet", `<p>${escapeHtml(message)}</p>`);
    }
  }
  return null;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!form.elements.file.files.length) return problem("Choisissez un fichier à importer.");
  if (!form.elements.token.value) return problem("Saisissez le jeton d'administration.");
  const data = new FormData();
  data.append("file", form.elements.file.files[0]);
  data.append("importer", form.elements.importer.value);
  if (form.elements.vintage.value) data.append("vintage", form.elements.vintage.value);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/datasets");
  xhr.setRequestHeader("Authorization", `Bearer ${form.elements.token.value}`);
  xhr.responseType = "json";
  xhr.upload.addEventListener("progress", (e) => {
    if (!e.lengthComputable) return;
    const percent = Math.round((100 * e.loaded) / e.total);
    bar.value = percent;
    const megabytes = (bytes) => formatNumber(bytes / 2 ** 20, "Mo");
    barLabel.textContent = `Envoi du fichier : ${percent} % (${megabytes(e.loaded)} sur `
      + `${megabytes(e.total)})`;
  });
  xhr.upload.addEventListener("load", () => {
    bar.removeAttribute("value");
    barLabel.textContent = "Fichier envoyé ; import et contrôles en cours…";
  });
  xhr.addEventListener("load", () => {
    progress.hidden = true;
    button.disabled = false;
    const body = xhr.response ?? {};
    if (xhr.status === 201) {
      const periods = (body.periods ?? []).join(", ") || "—";
      const notes = (body.notes ?? []).map((n) => `<li>${escapeHtml(n)}</li>`).join("");
      alert("success", body.already_imported ? "Fichier déjà importé" : "Import réussi", `
        <p>Jeu n° ${escapeHtml(body.dataset_id)} : ${formatNumber(body.rows)} lignes,
        ${formatNumber(body.observations)} valeurs, géographie ${escapeHtml(body.vintage ?? "—")},
        périodes ${escapeHtml(periods)}.</p>${notes ? `<ul>${notes}</ul>` : ""}
        <p><a href="/donnees">Actualiser la liste des jeux de données</a></p>`);
    } else {
      alert("error", `Import refusé (${xhr.status})`,
        `<p>${escapeHtml(body.error ?? xhr.statusText ?? "erreur inconnue")}</p>`);
    }
  });
  xhr.addEventListener("error", () => {
    progress.hidden = true;
    button.disabled = false;
    alert("error", "Envoi interrompu", "<p>Le serveur n'a pas pu être joint.</p>");
  });
  result.innerHTML = "";
  bar.value = 0;
  barLabel.textContent = "Envoi du fichier…";
  progress.hidden = false;
  button.disabled = true;
  xhr.send(data);
});
