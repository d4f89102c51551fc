// Baromètre pages: the territory search of /barometre, and the chart of the factor
// scores' bands of ranks on /barometre/{territory} (Observable Plot).

import { plot } from "./charts.js";

const search = document.getElementById("barometre-recherche");
if (search) {
  // search.js dispatches the chosen territory; open its baromètre, not its portrait
  search.addEventListener("cohesion:territory", (event) => {
    // territory ids (COM:93014@2026) are safe in a path as they are
    location.href = `/barometre/${event.detail.id}`;
  });
}

const data = document.getElementById("barometre-donnees");

function bands(view) {
  // ranks as the share (%) of the territories ranked ahead, so factors of different
  // sizes share one axis: 0 is the most favourable territory
  const share = (rank, n) => (n > 1 ? (100 * (rank - 1)) / (n - 1) : 0);
  return view.factors
    .filter((factor) => factor.score.rank !== null)
    .map((factor) => ({
      label: factor.label,
      low: share(factor.score.rank_low, factor.score.n),
      high: share(factor.score.rank_high, factor.score.n),
      rank: share(factor.score.rank, factor.score.n),
      text: `${factor.score.rank} / ${factor.score.n}`,
    }));
}

function drawScores() {
  const target = document.getElementById("barometre-scores-graphique");
  if (!target || !data || !window.Plot) return;
  const view = JSON.parse(data.textContent);
  const rows = bands(view);
  if (!rows.length) {
    target.textContent = "Aucun score de facteur n'est calculable pour ce territoire.";
    return;
  }
  const width = Math.min(target.clientWidth || 800, 900);
  target.replaceChildren(plot({
    width, height: 40 + 34 * rows.length, marginLeft: 230, marginRight: 60,
    style: { fontFamily: "Marianne, arial, sans-serif", fontSize: "12px" },
    x: { domain: [0, 100], label: "Part des territoires classés devant (%) — 0 = le plus favorable", grid: true },
    y: { label: null, domain: rows.map((r) => r.label) },
    marks: [
      Plot.barX(rows, { x1: "low", x2: "high", y: "label", fill: "#cacafb", insetTop: 8, insetBottom: 8 }),
      Plot.dot(rows, { x: "rank", y: "label", fill: "#000091", r: 5 }),
      Plot.text(rows, { x: "high", y: "label", text: "text", dx: 8, textAnchor: "start", fill: "#161616" }),
    ],
  }));
}

if (data) {
  if (document.readyState === "complete") drawScores();
  else window.addEventListener("load", drawScores);
}
