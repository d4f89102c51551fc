// Observable Plot charts under the pages' Content-Security-Policy.
//
// Plot puts a <style> element in each chart it draws, which the policy (style-src
// 'self') refuses. The chart is drawn with the class "graphique" and its <style> is
// removed before the chart joins the page (a <style> outside the page is never
// checked); cohesion.css carries the same rules for that class.

export function plot(options) {
  const chart = window.Plot.plot({ ...options, className: "graphique" });
  for (const style of chart.querySelectorAll("style")) style.remove();
  return chart;
}
