// Progressive enhancement only: every page works without this file. Loaded as a module from
// this origin (the Content-Security-Policy allows no inline script), it does what GOV.UK
// Frontend's page template would do inline, then starts the components and draws the charts.
import { initAll } from '/assets/govuk-frontend.min.js'

document.body.classList.add('js-enabled', 'govuk-frontend-supported')
initAll()

// One label for every chart and map: what a mark's `tooltip` field says, beside the pointer
// or the focused shape. Placed through the CSSOM (no inline style attribute, which the policy
// forbids) and hidden from screen readers, which read each mark's own aria-label instead.
const tip = document.createElement('div')
tip.className = 'app-tooltip'
tip.hidden = true
tip.setAttribute('aria-hidden', 'true')
document.body.append(tip)

// Whether the pointer or the keyboard's focus put the label up: each takes down only its own
// (the page scrolling to a focused shape moves what is under a still pointer).
let shownBy = null

function hide (by) {
  if (shownBy === by) {
    tip.hidden = true
    shownBy = null
  }
}

function show (by, text, x, y) {
  shownBy = by
  tip.textContent = String(text)
  tip.hidden = false
  const width = tip.offsetWidth
  const left = Math.max(window.scrollX + 5,
    Math.min(x + 12, window.scrollX + document.documentElement.clientWidth - width - 5))
  tip.style.left = `${left}px`
  tip.style.top = `${y + 16}px`
}

function pointed (handler, event, item, value) {
  if (value === undefined || value === null || value === '' || !event) {
    hide('pointer')
    return
  }
  show('pointer', value, event.pageX, event.pageY)
}

// A map's shapes are reachable by keyboard: each takes focus and shows its label.
function focusable (canvas) {
  for (const shape of canvas.querySelectorAll('path[aria-label]')) {
    shape.setAttribute('tabindex', '0')
    shape.addEventListener('focus', () => {
      const box = shape.getBoundingClientRect()
      show('focus', shape.getAttribute('aria-label'), box.left + window.scrollX + box.width / 2,
        box.top + window.scrollY + box.height / 2)
    })
    shape.addEventListener('blur', () => hide('focus'))
  }
}

// Each chart's Vega-Lite spec is in its figure's data-vega-lite attribute. Vega's expression
// interpreter (ast) instead of generated code, and no injected stylesheet, keep to a policy
// without 'unsafe-eval' or inline style; the tooltip is this file's own (above), not
// vega-tooltip's, which injects a stylesheet. The table after each chart has its values.
for (const figure of document.querySelectorAll('[data-vega-lite]')) {
  const canvas = figure.querySelector('.app-chart__canvas')
  const spec = JSON.parse(figure.dataset.vegaLite)
  window.vegaEmbed(canvas, spec, {
    renderer: 'svg', actions: false, ast: true, defaultStyle: false, tooltip: pointed
  }).then(() => {
    if (spec.projection) focusable(canvas)
    figure.classList.add('app-chart--drawn')
  }).catch((error) => console.error('chart', figure.id, error))
}
