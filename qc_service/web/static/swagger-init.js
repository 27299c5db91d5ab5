// Swagger UI on the service's own spec, from vendored assets (no CDN; CSP default-src 'self').
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
