// Comparator page: add territories with the search box, share the URL.

const ids = JSON.parse(document.getElementById("comparer-ids").textContent);
const input = document.getElementById("ajout-territoire");

function go(list) {
  const query = list.length ? `?ids=${list.map(encodeURIComponent).join(",")}` : "";
  location.href = `/comparer${query.replaceAll("%3A", ":").replaceAll("%40", "@")}`;
}

input.addEventListener("cohesion:territory", (event) => {
  const id = event.detail.id;
  if (!ids.includes(id)) go([...ids, id]);
});

document.getElementById("ajout-bouton").addEventListener("click", () => {
  input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
});

const copy = document.getElementById("copier-lien");
copy?.addEventListener("click", async () => {
  const status = document.getElementById("copie-statut");
  try {
    await navigator.clipboard.writeText(location.href);
    status.textContent = "Lien copié : " + location.href;
  } catch {
    status.textContent = "Copiez ce lien : " + location.href;
  }
});
document.getElementById("imprimer")?.addEventListener("click", () => window.print());
