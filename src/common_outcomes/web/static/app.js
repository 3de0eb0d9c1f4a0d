// Progressive enhancement only: every page works without this file. Loaded as a module from
// this origin (the Content-Security-Policy allows no inline script), it does what GOV.UK
// Frontend's page template would do inline, then starts the components.
import { initAll } from '/assets/govuk-frontend.min.js'

document.body.classList.add('js-enabled', 'govuk-frontend-supported')
initAll()
