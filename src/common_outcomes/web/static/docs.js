// The API's documentation (/docs): Swagger UI from this origin, reading the API's own OpenAPI
// document. No validator badge (it would call another site) and no deep links in the URL.
window.SwaggerUIBundle({
  url: '/api/v1/openapi.json',
  dom_id: '#swagger-ui',
  validatorUrl: null,
  deepLinking: false,
  presets: [window.SwaggerUIBundle.presets.apis]
})
