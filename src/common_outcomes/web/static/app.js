// Progressive enhancement only: every page works without this file. Loaded as a module from
// this origin (the Content-Security-Policy allows no inline script), it does what GOV.UK
// Frontend's page template would do inline, then starts the components and draws the charts.
import { initAll } from '/assets/govuk-frontend.min.js'

document.body.classList.add('js-enabled', 'govuk-frontend-supported')
initAll()

// Each chart's Vega-Lite spec is in its figure's data-vega-lite attribute. Vega's expression
// interpreter (ast) instead of generated code, and no injected stylesheet or tooltip, keep to
// a policy without 'unsafe-eval' or inline style. The table after each chart has its values.
for (const figure of document.querySelectorAll('[data-vega-lite]')) {
  const canvas = figure.querySelector('.app-chart__canvas')
  window.vegaEmbed(canvas, JSON.parse(figure.dataset.vegaLite), {
    renderer: 'svg', actions: false, ast: true, defaultStyle: false, tooltip: false
  }).then(() => figure.classList.add('app-chart--drawn'))
    .catch((error) => console.error('chart', figure.id, error))
}
