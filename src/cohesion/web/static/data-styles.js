// Styles worked out for one element (a marker's position, a bar's length, a legend
// colour) travel in data-style-* attributes and are set here through the CSSOM: the
// pages' Content-Security-Policy (style-src 'self') refuses style="…" attributes, in
// the templates as in the HTML that scripts build.
//
// Loaded by every page, it styles the page once; scripts that build HTML call
// applyDataStyles on what they built.

/** The style properties that a data-style-<property> attribute may set. */
const PROPERTIES = ["left", "width", "background"];

export function applyDataStyles(root = document) {
  for (const property of PROPERTIES) {
    const key = `style${property[0].toUpperCase()}${property.slice(1)}`;
    for (const element of root.querySelectorAll(`[data-style-${property}]`)) {
      element.style[property] = element.dataset[key];
    }
  }
}

applyDataStyles();
