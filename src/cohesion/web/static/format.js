// Numbers and words the French way, shared by the pages' scripts.

const formats = new Map();

/** Format a number like the server does: thin-space thousands, decimal comma, unit. */
export function formatNumber(value, unit = "") {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const magnitude = Math.abs(value);
  const digits = Number.isInteger(value) || magnitude >= 1000 ? 0 : magnitude >= 10 ? 1 : 2;
  return withUnit(formatter(digits).format(value), unit);
}

/** Format the bounds of a legend class with enough decimals to tell them apart. */
export function formatBound(value, step) {
  const digits = step >= 10 || Number.isInteger(value) && step >= 1 ? 0 : step >= 1 ? 1
    : step >= 0.1 ? 2 : 3;
  return formatter(Math.min(digits, 3)).format(value);
}

function formatter(digits) {
  if (!formats.has(digits)) {
    formats.set(digits, new Intl.NumberFormat("fr-FR", {
      minimumFractionDigits: digits, maximumFractionDigits: digits,
    }));
  }
  return formats.get(digits);
}

export function withUnit(text, unit) {
  return unit ? `${text}\u00a0${unit}` : text;
}

/** Escape text for insertion in HTML. */
export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

export const LEVEL_LABELS = {
  COM: "Commune", ARM: "Arrondissement municipal", COMD: "Commune déléguée",
  COMA: "Commune associée", EPCI: "EPCI", EPT: "Établissement public territorial",
  ARR: "Arrondissement", DEP: "Département", REG: "Région", FRA: "France",
  QPV: "Quartier prioritaire",
};

export const LEVEL_PLURALS = {
  COM: "communes", EPCI: "EPCI", EPT: "EPT", ARR: "arrondissements", DEP: "départements",
  REG: "régions", QPV: "quartiers prioritaires", FRA: "France",
};
