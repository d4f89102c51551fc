// QPV page: locate one address or point (POST /api/qpv/locate, JSON) and a CSV file
// (POST /api/qpv/locate.csv, multipart, with upload progress through XMLHttpRequest,
// whose upload events fetch does not offer). The file comes back enriched; its summary
// is read from the X-QPV-Resume header.

import { escapeHtml, formatNumber } from "./format.js";

const root = document.getElementById("qpv");
const generations = (root.dataset.generations || "").split(",").filter(Boolean);

// -- one address or point ---------------------------------------------------------------

const pointForm = document.getElementById("point-form");
const pointResult = document.getElementById("point-resultat");
const pointButton = document.getElementById("point-bouton");

function alertBox(kind, title, body) {
  return `<div class="fr-alert fr-alert--${kind}">
    <h3 class="fr-alert__title">${escapeHtml(title)}</h3>${body}</div>`;
}

function toggle(radioName, groups) {
  const chosen = document.querySelector(`input[name="${radioName}"]:checked`)?.value;
  for (const [value, element] of Object.entries(groups)) element.hidden = value !== chosen;
}

const pointGroups = {
  adresse: document.getElementById("groupe-adresse"),
  point: document.getElementById("groupe-point"),
};
for (const radio of pointForm.elements.mode) {
  radio.addEventListener("change", () => toggle("mode", pointGroups));
}

/** A decimal number typed the French way (3,8767) or not; NaN when it is not one. */
function decimal(text) {
  const cleaned = String(text ?? "").trim().replace(/\s/g, "").replace(",", ".");
  return cleaned === "" ? NaN : Number(cleaned);
}

function metres(value) {
  if (value === null || value === undefined) return "—";
  return formatNumber(Math.round(value), "m");
}

function quality(value) {
  const kinds = { "sûr": "success", probable: "warning", "hors QPV": "info", "non couvert": "new" };
  if (!value) return "—";
  return `<p class="fr-badge fr-badge--sm fr-badge--${kinds[value] ?? "info"}">${escapeHtml(value)}</p>`;
}

function showPoint(answer) {
  const result = answer.resultats[0];
  if (result.erreur) {
    const found = result.geocodage?.adresse
      ? `<p>Adresse trouvée : « ${escapeHtml(result.geocodage.adresse)} » (score
         ${formatNumber(result.geocodage.score)}).</p>` : "";
    pointResult.innerHTML = alertBox("warning", "Point non localisé",
      `<p>${escapeHtml(result.erreur)}</p>${found}`);
    return;
  }
  const geocoded = result.geocodage
    ? `<p class="fr-text--sm" id="point-geocodage">Adresse trouvée : <strong>${escapeHtml(result.geocodage.adresse)}</strong>
       — score ${formatNumber(result.geocodage.score)} (${escapeHtml(result.geocodage.qualite)}).</p>` : "";
  const rows = answer.generations.map((g) => {
    const r = result.qpv[String(g)];
    const name = r.code ? `<strong>${escapeHtml(r.code)}</strong> ${escapeHtml(r.nom ?? "")}` : "aucun";
    const nearest = !r.code && r.qpv_proche ? `<br><span class="fr-text--xs">le plus proche : ${escapeHtml(r.qpv_proche)}</span>` : "";
    return `<tr data-generation="${g}"><th scope="row">QPV ${g}</th><td>${name}${nearest}</td>
      <td>${quality(r.qualite)}</td><td>${metres(r.distance_m)}</td><td>${escapeHtml(r.bande ?? "—")}</td></tr>`;
  }).join("");
  pointResult.innerHTML = `${geocoded}
    <div class="fr-table fr-table--sm" id="point-tableau"><table>
      <caption>Commune ${escapeHtml(result.commune ?? "inconnue")} (code INSEE, COG ${escapeHtml(answer.millesime_communes ?? "—")})</caption>
      <thead><tr><th scope="col">Génération</th><th scope="col">QPV</th><th scope="col">Qualité</th>
        <th scope="col">Distance au QPV</th><th scope="col">Bande ONPV</th></tr></thead>
      <tbody>${rows}</tbody></table></div>`;
}

pointForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const mode = pointForm.elements.mode.value;
  let point;
  if (mode === "adresse") {
    const address = pointForm.elements.adresse.value.trim();
    if (!address) {
      pointForm.elements.adresse.focus();
      pointResult.innerHTML = alertBox("error", "Adresse vide", "<p>Saisissez une adresse.</p>");
      return;
    }
    point = { adresse: address };
  } else {
    const lon = decimal(pointForm.elements.lon.value);
    const lat = decimal(pointForm.elements.lat.value);
    if (Number.isNaN(lon) || Number.isNaN(lat)) {
      pointResult.innerHTML = alertBox("error", "Coordonnées invalides",
        "<p>Saisissez une longitude et une latitude en degrés, par exemple 3,8767 et 43,6108.</p>");
      return;
    }
    point = { lon, lat };
  }
  pointButton.disabled = true;
  pointResult.innerHTML = "<p>Localisation…</p>";
  try {
    const response = await fetch("/api/qpv/locate", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ points: [point] }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      pointResult.innerHTML = alertBox("error", `Demande refusée (${response.status})`,
        `<p>${escapeHtml(body.error ?? response.statusText)}</p>`);
    } else {
      showPoint(body);
    }
  } catch {
    pointResult.innerHTML = alertBox("error", "Serveur injoignable", "<p>Réessayez plus tard.</p>");
  } finally {
    pointButton.disabled = false;
  }
});

// -- a file -------------------------------------------------------------------------

const fileForm = document.getElementById("fichier-form");
const fileResult = document.getElementById("fichier-resultat");
const fileButton = document.getElementById("fichier-bouton");
const progress = document.getElementById("fichier-progression");
const bar = document.getElementById("fichier-barre");
const barLabel = document.getElementById("fichier-barre-label");
let download = null;

const fileGroups = {
  point: document.getElementById("fichier-groupe-point"),
  adresse: document.getElementById("fichier-groupe-adresse"),
};
for (const radio of fileForm.elements["fichier-mode"]) {
  radio.addEventListener("change", () => toggle("fichier-mode", fileGroups));
}

function percent(share) {
  return formatNumber(100 * share, "%");
}

function showSummary(summary, filename) {
  // shares count covered rows only: a row whose QPV contours are not loaded is neither in nor out;
  // bands come nearest first, in the order of the server's summary
  const lines = (summary.dans_qpv ? Object.keys(summary.dans_qpv) : generations).map((g) => {
    const missing = summary.non_couverts?.[g];
    return `
    <tr data-generation="${g}"><th scope="row">QPV ${g}</th>
      <td>${formatNumber(summary.dans_qpv[g])}</td>
      <td>${percent(summary.part_dans_qpv[g])} des ${formatNumber(summary.couverts?.[g] ?? 0)} lignes couvertes</td>
      <td class="non-couverts">${missing?.lignes
        ? `${formatNumber(missing.lignes)} (${escapeHtml(missing.motif ?? "")})` : "—"}</td>
      <td>${Object.entries(summary.qualites[g] ?? {}).filter(([, n]) => n)
        .map(([q, n]) => `${escapeHtml(q)} ${formatNumber(n)}`).join(", ") || "—"}</td>
      <td class="bandes">${Object.entries(summary.bandes?.[g] ?? {}).filter(([, n]) => n)
        .map(([b, n]) => `${escapeHtml(b)} ${formatNumber(n)}`).join(", ") || "—"}</td></tr>`;
  }).join("");
  const geocoding = summary.geocodage
    ? `<p class="fr-text--sm">Géocodage : ${Object.entries(summary.geocodage)
      .map(([q, n]) => `${escapeHtml(q)} ${formatNumber(n)}`).join(", ")}.</p>` : "";
  fileResult.innerHTML = `<div class="fr-alert fr-alert--success" id="fichier-resume">
      <h3 class="fr-alert__title">Fichier localisé</h3>
      <p><span id="resume-lignes">${formatNumber(summary.lignes)}</span> lignes, dont
        <span id="resume-erreurs">${formatNumber(summary.erreurs)}</span> en erreur (colonne « erreur »).</p>
    </div>
    <div class="fr-table fr-table--sm fr-mt-2w" id="fichier-tableau"><table>
      <caption>Lignes dans un QPV, par génération</caption>
      <thead><tr><th scope="col">Génération</th><th scope="col">Lignes dans un QPV</th>
        <th scope="col">Part</th><th scope="col">Non couvertes</th>
        <th scope="col">Qualités</th><th scope="col">Bandes ONPV</th></tr></thead>
      <tbody>${lines}</tbody></table></div>
    ${geocoding}
    <a class="fr-btn fr-btn--secondary fr-icon-download-line fr-btn--icon-left" id="fichier-telecharger"
       href="${download}" download="${escapeHtml(filename)}">Télécharger ${escapeHtml(filename)}</a>`;
}

fileForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const file = fileForm.elements.file.files[0];
  if (!file) {
    fileForm.elements.file.focus();
    fileResult.innerHTML = alertBox("error", "Aucun fichier", "<p>Choisissez un fichier CSV.</p>");
    return;
  }
  const data = new FormData();
  data.append("file", file);
  if (fileForm.elements["fichier-mode"].value === "adresse") {
    const columns = fileForm.elements.adresse.value.split(",").map((c) => c.trim()).filter(Boolean);
    if (!columns.length) {
      fileResult.innerHTML = alertBox("error", "Colonnes manquantes",
        "<p>Indiquez la ou les colonnes de l'adresse.</p>");
      return;
    }
    for (const column of columns) data.append("adresse", column);
  } else {
    data.append("lon", fileForm.elements.lon.value.trim());
    data.append("lat", fileForm.elements.lat.value.trim());
  }
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/qpv/locate.csv");
  xhr.responseType = "blob";
  xhr.upload.addEventListener("progress", (e) => {
    if (!e.lengthComputable) return;
    const share = Math.round((100 * e.loaded) / e.total);
    bar.value = share;
    const megabytes = (bytes) => formatNumber(bytes / 2 ** 20, "Mo");
    barLabel.textContent = `Envoi du fichier : ${share} % (${megabytes(e.loaded)} sur ${megabytes(e.total)})`;
  });
  xhr.upload.addEventListener("load", () => {
    bar.removeAttribute("value");
    barLabel.textContent = "Fichier envoyé ; localisation des lignes en cours…";
  });
  xhr.addEventListener("load", async () => {
    progress.hidden = true;
    fileButton.disabled = false;
    if (xhr.status === 200) {
      if (download) URL.revokeObjectURL(download);
      download = URL.createObjectURL(xhr.response);
      const disposition = xhr.getResponseHeader("Content-Disposition") ?? "";
      const filename = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? "points_qpv.csv";
      showSummary(JSON.parse(xhr.getResponseHeader("X-QPV-Resume") ?? "{}"), filename);
    } else {
      let message = xhr.statusText;
      try {
        message = JSON.parse(await xhr.response.text()).error ?? message;
      } catch { /* not JSON: keep the status text */ }
      fileResult.innerHTML = alertBox("error", `Fichier refusé (${xhr.status})`,
        `<p>${escapeHtml(message)}</p>`);
    }
  });
  xhr.addEventListener("error", () => {
    progress.hidden = true;
    fileButton.disabled = false;
    fileResult.innerHTML = alertBox("error", "Envoi interrompu",
      "<p>Le serveur n'a pas pu être joint, ou a refusé le fichier en cours d'envoi (trop volumineux ?).</p>");
  });
  fileResult.innerHTML = "";
  bar.value = 0;
  barLabel.textContent = "Envoi du fichier…";
  progress.hidden = false;
  fileButton.disabled = true;
  xhr.send(data);
});
